"""The API docs page works with the network off: ReDoc and everything it loads come from this server."""

from urllib.parse import urlsplit

from tests.browser.conftest import shoot


def test_the_api_docs_render_with_no_request_leaving_the_server(web_server, new_page) -> None:
    page = new_page()
    server_host = urlsplit(web_server.base_url).netloc
    outside: list[str] = []

    def offline(route) -> None:
        # The network is off: only this server answers; anything else is recorded and fails.
        url = route.request.url
        if urlsplit(url).netloc == server_host or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    page.context.route("**/*", offline)
    page.goto(f"{web_server.base_url}/api/docs/")
    title = page.locator("h1", has_text="Voltai reference server API")
    title.wait_for(state="visible", timeout=30_000)
    page.get_by_text("/chat/query/", exact=False).first.wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    shoot(page, "api-docs-offline")
    assert outside == [], outside
    assert page.console_errors == []
    html = page.content()
    assert "googleapis" not in html and "cdn.jsdelivr" not in html
