// Voltai web pages: small progressive enhancements. Every page works without this file,
// except streaming answers and live ingestion progress.
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const csrfToken = () => {
    const field = $("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  };
  const make = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // --- times in the reader's own zone -------------------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function localiseTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach((node) => {
      const when = new Date(node.getAttribute("datetime"));
      if (isNaN(when)) return;
      node.title = node.textContent;
      node.textContent = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ${pad(when.getHours())}:${pad(when.getMinutes())}`;
    });
  }
  localiseTimes();

  // --- Server-Sent Events over fetch() --------------------------------------------------------
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (!line || line.startsWith(":")) continue; // ": ping" keep-alives
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? "" : line.slice(colon + 1);
          if (text.startsWith(" ")) text = text.slice(1);
          if (field === "event") name = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) yield { name, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  // --- the thread page: ask, stream the answer, then show it as stored ------------------------
  const askForm = $("#ask-form");
  if (askForm) {
    const thread = $("#thread");
    const query = $("#id_query", askForm);
    const askButton = $("#ask-button", askForm);
    const stopButton = $("#stop-button", askForm);
    const status = $("#ask-status", askForm);
    let controller = null;

    const setBusy = (busy) => {
      askButton.disabled = busy;
      askButton.textContent = busy ? "Answering…" : "Ask";
      stopButton.hidden = !busy;
    };

    const refreshThread = async (path) => {
      const response = await fetch(path, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (!response.ok) return false;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = $("#thread", page);
      if (!fresh) return false;
      thread.replaceChildren(...fresh.childNodes);
      const heading = $(".page-head", page);
      if (heading) {
        $(".page-head").replaceWith(heading);
        localiseTimes(heading);
      }
      const label = $("label[for=id_query]", page);
      if (label) $("label[for=id_query]").textContent = label.textContent;
      localiseTimes(thread);
      return true;
    };

    query.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        askForm.requestSubmit();
      }
    });
    stopButton.addEventListener("click", () => controller && controller.abort());

    askForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = query.value.trim();
      if (!text || controller) return;
      const body = new FormData(askForm);
      const empty = $("#thread-empty");
      if (empty) empty.remove();

      const question = make("article", "msg user");
      question.setAttribute("aria-label", "Question");
      const qHead = make("div", "msg-head");
      qHead.append(make("span", "who", "Question"), make("span", "", "just now"));
      question.append(qHead, make("p", "question", text));
      const answer = make("article", "msg assistant");
      answer.setAttribute("aria-label", "Answer");
      answer.setAttribute("aria-busy", "true");
      const aHead = make("div", "msg-head");
      const modeBadge = make("span", "badge");
      modeBadge.hidden = true;
      aHead.append(make("span", "who", "Answer"), modeBadge);
      const steps = make("ul", "steps");
      const body_ = make("div", "answer prose streaming-text");
      body_.id = "streaming-answer";
      answer.append(aHead, steps, body_);
      thread.append(question, answer);
      answer.scrollIntoView({ block: "nearest" });

      setBusy(true);
      status.textContent = "Thinking…";
      controller = new AbortController();
      const started = performance.now();
      let chatPath = null;
      let finished = false;
      try {
        const response = await fetch(askForm.action, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { Accept: "text/event-stream", "X-CSRFToken": csrfToken() },
          signal: controller.signal,
        });
        const type = response.headers.get("Content-Type") || "";
        if (response.redirected && !type.includes("event-stream")) {
          window.location.reload(); // the session ended: the server sent the login page
          return;
        }
        if (!response.ok || !type.includes("text/event-stream")) {
          let message = `The server answered ${response.status}.`;
          try {
            message = (await response.json()).message || message;
          } catch (_) {
            /* not JSON */
          }
          question.remove();
          answer.remove();
          status.textContent = "";
          const alert = make("p", "alert", message);
          alert.setAttribute("role", "alert");
          status.append(alert);
          return;
        }
        query.value = "";
        for await (const item of readEvents(response)) {
          if (item.name === "meta") {
            askForm.elements.chat_id.value = item.data.chat_id;
            chatPath = new URL(item.data.chat_url, window.location.href).pathname;
            if (window.location.pathname !== chatPath) history.replaceState(null, "", chatPath);
            if (item.data.mode) {
              modeBadge.textContent = item.data.mode;
              modeBadge.className = `badge mode-${item.data.mode}`;
              modeBadge.hidden = false;
            }
            status.textContent = "Searching the library…";
          } else if (item.name === "step") {
            const line = make("li");
            line.append(make("code", "", item.data.tool), ` ${item.data.result || ""}`);
            steps.append(line);
          } else if (item.name === "delta") {
            body_.append(document.createTextNode(item.data.text));
            status.textContent = "Writing the answer…";
          } else if (item.name === "done") {
            finished = true;
            chatPath = new URL(item.data.chat_url, window.location.href).pathname;
            status.textContent = `Answered in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
          } else if (item.name === "error") {
            finished = true;
            const alert = make("p", "alert", item.data.message || "The answer failed.");
            alert.setAttribute("role", "alert");
            answer.insertBefore(alert, body_);
            status.textContent = "";
          }
        }
        if (!finished) status.textContent = "The connection closed before the answer finished.";
      } catch (error) {
        status.textContent = error.name === "AbortError" ? "Stopped." : "The connection failed; try again.";
      } finally {
        controller = null;
        setBusy(false);
        body_.classList.remove("streaming-text");
        answer.removeAttribute("aria-busy");
        if (chatPath) {
          try {
            await refreshThread(chatPath); // show the turn as stored, with formatting and source links
          } catch (_) {
            /* keep what was streamed */
          }
        }
        query.focus();
      }
    });
  }

  // --- the library: live ingestion progress ------------------------------------------------
  const library = $("#library");
  if (library) {
    const update = (row) => {
      document.querySelectorAll(`[data-progress-for="${row.id}"]`).forEach((box) => {
        const badge = $("[data-role=badge]", box);
        badge.className = `badge ${row.status}`;
        badge.textContent = row.status_label;
        const bar = $("[data-role=bar]", box);
        bar.value = row.percent;
        bar.hidden = !row.active;
        const line = $("[data-role=line]", box);
        line.textContent = row.line;
        line.className = `progress-line ${row.status}`;
      });
    };
    const poll = async () => {
      try {
        const response = await fetch(library.dataset.progressUrl, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok || response.redirected) return;
        const data = await response.json();
        data.documents.forEach(update);
        if (data.active) setTimeout(poll, 1000);
      } catch (_) {
        setTimeout(poll, 3000);
      }
    };
    if (library.dataset.active === "1") setTimeout(poll, 500);
  }

  // --- the library: drag and drop several PDFs ------------------------------------------------
  const zone = $("#dropzone");
  if (zone) {
    const input = $("#id_files");
    const list = $("#file-list");
    const showFiles = () => {
      list.replaceChildren(...Array.from(input.files).map((file) => make("li", "", `${file.name} (${Math.ceil(file.size / 1024)} KB)`)));
    };
    const isPdf = (file) => file.type === "application/pdf" || /\.pdf$/i.test(file.name);
    ["dragenter", "dragover"].forEach((type) =>
      zone.addEventListener(type, (event) => {
        event.preventDefault();
        zone.classList.add("over");
      })
    );
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      const files = new DataTransfer();
      Array.from(event.dataTransfer.files).filter(isPdf).forEach((file) => files.items.add(file));
      input.files = files.files;
      showFiles();
    });
    // A PDF dropped next to the zone must not replace the page with the browser's viewer.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
    input.addEventListener("change", showFiles);
    $("#upload-form").addEventListener("submit", () => {
      const button = $("#upload-button");
      button.disabled = true;
      button.textContent = "Uploading…";
    });
  }

  // --- a cited page: arrow keys turn pages -------------------------------------------------------
  const prev = $("#prev-page");
  const next = $("#next-page");
  if (prev || next) {
    document.addEventListener("keydown", (event) => {
      if (event.altKey || event.ctrlKey || event.metaKey || /INPUT|TEXTAREA|SELECT/.test(event.target.tagName)) return;
      if (event.key === "ArrowLeft" && prev) prev.click();
      if (event.key === "ArrowRight" && next) next.click();
    });
  }
})();
