"""Chat web pages: the org's threads, one thread (the API's chat_url), and asking in the browser.

Answers are Markdown-ish text from an LLM or from PDF passages. They are rendered with raw
HTML switched off (so `<script>` shows as text) and then sanitised by nh3 to a short list of
tags, so nothing a PDF or a model writes can run in the reader's browser.
"""

import re
from dataclasses import dataclass
from uuid import UUID

import markdown
import nh3
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from agent.events import Mode
from chat.forms import AskForm, ThreadSearchForm
from chat.models import Chat, Message
from chat.selectors import chat_get, chat_threads
from chat.services import chat_turn_begin
from chat.sse import turn_event_stream
from core.errors import ChatNotFound, InvalidRequest
from library.display import readable
from library.links import source_path
from library.search import CitedPage
from library.selectors import cited_chunk_ids, quoted_units
from orgs.access import OrgAccess, not_found_page, org_page, org_path, page_context
from orgs.selectors import orgs_for_user

THREADS_PER_PAGE = 30

# --- safe rendering of answers ------------------------------------------------------------

_ANSWER_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "ul", "ol", "li", "blockquote", "hr",
    "table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6", "a", "sub", "sup", "del",
}  # fmt: skip
_ANSWER_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align", "style"}, "td": {"align", "style"}}


# Python-Markdown reads "#define" as a heading; datasheet text means the C line, so a '#'
# opening a line counts as a heading only when a space follows, as in CommonMark.
_HASH_WITHOUT_SPACE = re.compile(r"^(\s{0,3})(#+)(?=[^#\s])")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _escape_hash_lines(text: str) -> str:
    lines = text.split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines[index] = _HASH_WITHOUT_SPACE.sub(lambda m: m.group(1) + "\\#" * len(m.group(2)), line)
    return "\n".join(lines)


def render_answer(text: str) -> SafeString:
    """Markdown (lists, tables, code) → sanitised HTML. Raw HTML in `text` is shown as text."""
    text = _escape_hash_lines(readable(text))
    converter = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists", "nl2br"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    html = converter.convert(text)
    cleaned = nh3.clean(
        html,
        tags=_ANSWER_TAGS,
        attributes=_ANSWER_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    return mark_safe(cleaned)  # nh3 output: only the tags and attributes above


# --- the org's threads -----------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """`/`: straight to the user's org, or a choice when they belong to several."""
    orgs = list(orgs_for_user(user=request.user).order_by("name"))
    if len(orgs) == 1:
        return redirect(org_path(orgs[0], "chat/"))
    links = [{"name": org.name, "chat": org_path(org, "chat/"), "library": org_path(org, "library")} for org in orgs]
    return render(request, "home.html", {"orgs": links})


@require_GET
@org_page
def org_home(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    return redirect(org_path(access.org, "chat/"))


@require_GET
@org_page
def chat_list(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    """`/{org}/chat/`: every thread of the org, newest first, searchable by user_id and text."""
    form = ThreadSearchForm(request.GET)
    form.is_valid()
    query = {key: value for key in ("user_id", "q") if (value := form.cleaned_data.get(key, ""))}
    chats = chat_threads(org=access.org, user_id=query.get("user_id", ""), text=query.get("q", ""))
    page = Paginator(chats, THREADS_PER_PAGE).get_page(request.GET.get("page"))
    context = page_context(
        access,
        "chat",
        page=page,
        threads=[(chat, org_path(access.org, "chat", str(chat.pk))) for chat in page.object_list],
        form=form,
        searching=bool(query),
        query=query,
    )
    return render(request, "chat/list.html", context)


# --- one thread ------------------------------------------------------------------------------


@dataclass
class ThreadMessage:
    message: Message
    html: SafeString | None
    sources: list[tuple[CitedPage, str]]  # each cited page with the link to it

    @property
    def seconds(self) -> float | None:
        total_ms = (self.message.timings or {}).get("total_ms")
        return total_ms / 1000 if isinstance(total_ms, int | float) else None


def _thread_messages(access: OrgAccess, chat: Chat) -> list[ThreadMessage]:
    out: list[ThreadMessage] = []
    question = ""
    for message in chat.messages.order_by("created_at", "id"):
        if message.role != Message.Role.ASSISTANT:
            out.append(ThreadMessage(message=message, html=None, sources=[]))
            question = message.content
            continue
        stored = [item for item in message.sources or [] if isinstance(item, dict) and item.get("source_name")]
        pages = [CitedPage.from_stored(item) for item in stored]
        links = [
            (page, _source_link(access, chat, question, page, chunk_ids, message.content))
            for page, chunk_ids in zip(pages, cited_chunk_ids(org=access.org, pages=pages), strict=True)
        ]
        out.append(ThreadMessage(message=message, html=render_answer(message.content), sources=links))
    return out


def _source_link(
    access: OrgAccess, chat: Chat, question: str, page: CitedPage, chunk_ids: list[int], answer: str
) -> str:
    """The library page of a cited page, its passages highlighted and the rows the answer
    quoted outlined on its image, with the way back to the thread."""
    extra = {"from": str(chat.pk), "q": " ".join(question.split())[:200]}
    if chunk_ids:
        extra["cite"] = ",".join(str(i) for i in chunk_ids)
    quoted = quoted_units(org=access.org, cited=page, answer=answer)
    if quoted.positions:
        extra["rows"] = ",".join(str(i) for i in quoted.positions)
        extra["rows_of"] = str(quoted.version)  # positions in that version's units only
    href = source_path(access.org, page.source_name, page.page, **extra)
    return href + "#cited-1" if chunk_ids else href


def _thread_page(request: HttpRequest, access: OrgAccess, chat: Chat | None) -> HttpResponse:
    context = page_context(
        access,
        "chat",
        chat=chat,
        turns=_thread_messages(access, chat) if chat else [],
        ask_form=AskForm(org=access.org, initial={"chat_id": chat.pk if chat else None, "mode": Mode.AUTO}),
        stream_url=org_path(access.org, "chat", "stream"),
        list_url=org_path(access.org, "chat/"),
    )
    return render(request, "chat/thread.html", context)


@require_GET
@org_page
def chat_thread(request: HttpRequest, access: OrgAccess, chat_id: UUID) -> HttpResponse:
    """`/{org}/chat/{chat_id}`: the API's chat_url."""
    chat = chat_get(org=access.org, chat_id=chat_id)
    if chat is None:
        list_url = org_path(access.org, "chat/")
        reason = "This thread does not exist in this organization."
        return not_found_page(request, access, reason, list_url, "All threads", section="chat")
    return _thread_page(request, access, chat)


@require_GET
@org_page
def chat_new(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    return _thread_page(request, access, None)


@require_POST
@org_page
def chat_stream(request: HttpRequest, access: OrgAccess) -> StreamingHttpResponse:
    """Ask from the browser: the same SSE events as the API (meta, step, delta, done, error).

    A thread started by an API client is continued under its own user_id, so the turn lands
    on the same chat; the hold is the web login's ("web:<user id>"), never the API key's.
    Errors before the answer starts are JSON in the API's error shape.
    """
    form = AskForm(request.POST, org=access.org)
    if not form.is_valid():
        raise InvalidRequest("Some fields are missing or invalid.", details=_form_errors(form))
    chat_id, topic = form.cleaned_data["chat_id"], form.cleaned_data["topic"]
    with chat_turn_begin(
        org=access.org,
        holder=f"web:{access.user.pk}",
        user_id=_asker(access, chat_id),
        query=form.cleaned_data["query"],
        mode=form.cleaned_data["mode"],
        chat_id=chat_id,
        topic_names=[topic.name] if topic else None,
        created_by=access.user,
    ) as turn:
        return turn_event_stream(turn)


def _form_errors(form: AskForm) -> dict[str, list[str]]:
    return {field: [error["message"] for error in errors] for field, errors in form.errors.get_json_data().items()}


def _asker(access: OrgAccess, chat_id: UUID | None) -> str:
    """The user_id a question from the browser is asked as: a thread's own (an API client's
    thread goes on under its user_id), else the login's username."""
    if chat_id is None:
        return access.user.get_username()
    chat = chat_get(org=access.org, chat_id=chat_id)
    if chat is None:
        raise ChatNotFound()
    return chat.user_id
