/* digitreader's page: draw on the pad or drop in a photo; POST it to /v1/read; show the reading.
 * Plain JavaScript, no build step. The pad is always white paper with black ink; the server normalises. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const READ_DELAY_MS = 300;      // debounce between the last stroke movement and a read
  const SEND_SIDE = 200;          // the drawing is sent cropped to its ink and at most this many pixels a side
  const MAX_PHOTO_SIDE = 4000;    // larger photos are scaled down in the browser before upload
  const SCALED_SIDE = 3000;
  const UNSURE = 0.6;             // below this confidence the page suggests a clearer try

  const state = {
    tab: "draw",
    mode: "auto",
    strokes: [],                  // each stroke: array of [x, y] in canvas pixels
    current: null,
    timer: 0,
    results: { draw: null, photo: null },
    errors: { draw: "", photo: "" },
    requests: { draw: null, photo: null },   // {seq, controller}
    seq: 0,
    photo: null,                  // {blob, name}
    maxBody: 10_000_000,
  };

  /* ------------------------------------------------------------------ tabs */
  const tabs = { draw: $("tab-draw"), photo: $("tab-photo") };
  const panels = { draw: $("panel-draw"), photo: $("panel-photo") };

  function selectTab(name, focus) {
    state.tab = name;
    for (const [key, tab] of Object.entries(tabs)) {
      const on = key === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      panels[key].hidden = !on;
    }
    if (focus) tabs[name].focus();
    render();
  }

  for (const [key, tab] of Object.entries(tabs)) {
    tab.addEventListener("click", () => selectTab(key, false));
    tab.addEventListener("keydown", (event) => {
      const order = ["draw", "photo"];
      const i = order.indexOf(key);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: order.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      selectTab(order[(next + order.length) % order.length], true);
    });
  }

  /* ------------------------------------------------------------------ mode */
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      state.mode = radio.value;
      if (state.strokes.length) readDrawing();
      if (state.photo) readPhoto();
    });
  }

  /* ------------------------------------------------------------------ drawing pad */
  const pad = $("pad");
  const canvas = $("draw-canvas");
  const ctx = canvas.getContext("2d");
  const overlay = $("draw-overlay");
  const octx = overlay.getContext("2d");
  const INK = "#111418";
  const STROKE = canvas.width / 16;      // a thick marker: reads like MNIST's strokes once scaled down

  const mid = (a, b) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];

  function setPen() {
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = STROKE;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  // The pad's canvas holds the ink only (the dotted paper is CSS behind it); reads send it on white.
  function paper() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
  }

  // What is sent: the ink's bounding box plus a margin, scaled down to SEND_SIDE, on white. Reading cost
  // grows with pixels and the reader normalises size anyway; `place` maps the boxes back onto the pad.
  function padImage(callback) {
    const xs = state.strokes.flat().map((p) => p[0]);
    const ys = state.strokes.flat().map((p) => p[1]);
    const half = STROKE / 2;
    const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) + STROKE;
    const margin = Math.max(STROKE, span * 0.15);
    const x0 = Math.max(0, Math.floor(Math.min(...xs) - half - margin));
    const y0 = Math.max(0, Math.floor(Math.min(...ys) - half - margin));
    const x1 = Math.min(canvas.width, Math.ceil(Math.max(...xs) + half + margin));
    const y1 = Math.min(canvas.height, Math.ceil(Math.max(...ys) + half + margin));
    const scale = Math.min(1, SEND_SIDE / Math.max(x1 - x0, y1 - y0));
    const sheet = document.createElement("canvas");
    sheet.width = Math.max(1, Math.round((x1 - x0) * scale));
    sheet.height = Math.max(1, Math.round((y1 - y0) * scale));
    const sctx = sheet.getContext("2d");
    sctx.fillStyle = "#ffffff";
    sctx.fillRect(0, 0, sheet.width, sheet.height);
    sctx.drawImage(canvas, x0, y0, x1 - x0, y1 - y0, 0, 0, sheet.width, sheet.height);
    const sx = (x1 - x0) / sheet.width;
    const sy = (y1 - y0) / sheet.height;
    const place = ([x, y, w, h]) => [x0 + x * sx, y0 + y * sy, w * sx, h * sy];
    sheet.toBlob((blob) => callback(blob, place), "image/png");
  }

  function dot(p) {
    setPen();
    ctx.beginPath();
    ctx.arc(p[0], p[1], STROKE / 2, 0, Math.PI * 2);
    ctx.fill();
  }

  // A stroke is a smooth curve through the midpoints of its samples (quadratic pieces), the same whether it
  // is drawn piece by piece while the pointer moves or all at once on redraw.
  function drawStroke(points) {
    if (points.length === 1) return dot(points[0]);
    setPen();
    ctx.beginPath();
    ctx.moveTo(...points[0]);
    ctx.lineTo(...mid(points[0], points[1]));
    for (let i = 1; i < points.length - 1; i++) ctx.quadraticCurveTo(...points[i], ...mid(points[i], points[i + 1]));
    ctx.lineTo(...points[points.length - 1]);
    ctx.stroke();
  }

  function drawPiece(points) {
    const n = points.length;
    setPen();
    ctx.beginPath();
    if (n === 2) {
      ctx.moveTo(...points[0]);
      ctx.lineTo(...mid(points[0], points[1]));
    } else {
      ctx.moveTo(...mid(points[n - 3], points[n - 2]));
      ctx.quadraticCurveTo(...points[n - 2], ...mid(points[n - 2], points[n - 1]));
    }
    ctx.stroke();
  }

  function finishStroke(points) {
    const n = points.length;
    if (n < 2) return;
    setPen();
    ctx.beginPath();
    ctx.moveTo(...mid(points[n - 2], points[n - 1]));
    ctx.lineTo(...points[n - 1]);
    ctx.stroke();
  }

  function redraw() {
    paper();
    for (const stroke of state.strokes) drawStroke(stroke);
  }

  function canvasPoint(event) {
    const rect = canvas.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) * canvas.width) / rect.width,
      ((event.clientY - rect.top) * canvas.height) / rect.height,
    ];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    state.current = [canvasPoint(event)];
    state.strokes.push(state.current);
    dot(state.current[0]);
    clearBoxes();
    clearTimeout(state.timer);
    updatePad();
  });

  canvas.addEventListener("pointermove", (event) => {
    if (!state.current) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) {
      const p = canvasPoint(e);
      const last = state.current[state.current.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) < 1.5) continue;
      state.current.push(p);
      drawPiece(state.current);
    }
    scheduleRead();
  });

  function endStroke() {
    if (!state.current) return;
    finishStroke(state.current);
    state.current = null;
    scheduleRead();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);

  function scheduleRead(delay = READ_DELAY_MS) {
    clearTimeout(state.timer);
    state.timer = setTimeout(readDrawing, delay);
  }

  function updatePad() {
    const ink = state.strokes.length > 0;
    pad.classList.toggle("has-ink", ink);
    $("undo").disabled = !ink;
    $("clear").disabled = !ink;
  }

  function undo() {
    if (!state.strokes.length) return;
    state.current = null;
    state.strokes.pop();
    redraw();
    clearBoxes();
    updatePad();
    if (state.strokes.length) scheduleRead(60);
    else resetResult("draw");
  }

  function clearPad() {
    state.current = null;
    state.strokes = [];
    redraw();
    clearBoxes();
    updatePad();
    resetResult("draw");
    announce("Drawing pad cleared.");
  }

  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", clearPad);

  document.addEventListener("keydown", (event) => {
    if (state.tab !== "draw" || event.target.closest("input, textarea, select")) return;
    if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (event.key === "Escape" && state.strokes.length) {
      event.preventDefault();
      clearPad();
    }
  });

  function readDrawing() {
    clearTimeout(state.timer);
    if (!state.strokes.length) return;
    padImage((blob, place) => {
      if (blob && state.strokes.length) send("draw", blob, { "Content-Type": "image/png" }, place);
    });
  }

  /* boxes over the pad, in canvas pixels: a red pen's rectangle and a tag with the label */
  function clearBoxes() {
    octx.clearRect(0, 0, overlay.width, overlay.height);
  }

  function drawPadBoxes(digits) {
    clearBoxes();
    const pen = getComputedStyle(document.documentElement).getPropertyValue("--pen").trim() || "#d8432f";
    octx.lineWidth = 3;
    octx.strokeStyle = pen;
    octx.font = "700 22px system-ui, sans-serif";
    octx.textBaseline = "middle";
    for (const d of digits) {
      const [x, y, w, h] = d.shown;
      const pad = 8;
      octx.beginPath();
      octx.roundRect(x - pad, y - pad, w + 2 * pad, h + 2 * pad, 8);
      octx.stroke();
      const tag = String(d.label);
      const tw = octx.measureText(tag).width + 14;
      const tx = Math.max(0, Math.min(x - pad, overlay.width - tw));
      const ty = y - pad - 28 >= 0 ? y - pad - 28 : Math.min(y + h + pad, overlay.height - 26);
      octx.fillStyle = pen;
      octx.beginPath();
      octx.roundRect(tx, ty, tw, 26, 6);
      octx.fill();
      octx.fillStyle = "#fff";
      octx.fillText(tag, tx + 7, ty + 13.5);
    }
  }

  /* ------------------------------------------------------------------ photo */
  const dropzone = $("dropzone");
  const photo = $("photo");
  const photoImg = $("photo-img");
  const photoOverlay = $("photo-overlay");
  const SVG = "http://www.w3.org/2000/svg";

  for (const id of ["file-input", "camera-input"]) {
    $(id).addEventListener("change", (event) => {
      const file = event.target.files && event.target.files[0];
      event.target.value = "";
      if (file) takePhoto(file);
    });
  }

  $("photo-again").addEventListener("click", () => {
    state.photo = null;
    photo.hidden = true;
    dropzone.hidden = false;
    resetResult("photo");
    $("file-input").focus();
  });

  // Files dropped anywhere on the page go to the photo tab.
  let dragDepth = 0;
  const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    dragDepth++;
    if (state.tab !== "photo") selectTab("photo", false);
    dropzone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) dropzone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    dropzone.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) takePhoto(file);
  });
  document.addEventListener("paste", (event) => {
    const file = Array.from(event.clipboardData ? event.clipboardData.files : []).find((f) =>
      f.type.startsWith("image/"),
    );
    if (!file) return;
    event.preventDefault();
    selectTab("photo", false);
    takePhoto(file);
  });

  async function takePhoto(file) {
    if (file.type && !file.type.startsWith("image/")) {
      showPhotoError(`${file.name} is not an image.`);
      return;
    }
    const blob = await shrinkIfHuge(file);
    state.photo = { blob, name: file.name || "photo" };
    photoOverlay.replaceChildren();
    photoImg.src && URL.revokeObjectURL(photoImg.src);
    photoImg.src = URL.createObjectURL(blob);
    photoImg.alt = `The photo you chose: ${state.photo.name}`;
    $("photo-name").textContent = state.photo.name;
    dropzone.hidden = true;
    photo.hidden = false;
    readPhoto();
  }

  // Phone photos can be 50 megapixels: scale those down here (the browser applies EXIF orientation),
  // so the upload stays small and under the server's limits. Formats the browser cannot decode go as they are.
  async function shrinkIfHuge(file) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch {
      return file;
    }
    const side = Math.max(bitmap.width, bitmap.height);
    if (side <= MAX_PHOTO_SIDE && file.size <= state.maxBody * 0.9) return file;
    const scale = Math.min(1, SCALED_SIDE / side);
    const c = document.createElement("canvas");
    c.width = Math.round(bitmap.width * scale);
    c.height = Math.round(bitmap.height * scale);
    c.getContext("2d").drawImage(bitmap, 0, 0, c.width, c.height);
    const blob = await new Promise((resolve) => c.toBlob(resolve, "image/jpeg", 0.92));
    return blob || file;
  }

  function readPhoto() {
    if (!state.photo) return;
    const form = new FormData();
    form.append("file", state.photo.blob, state.photo.name);
    send("photo", form, {});
  }

  function showPhotoError(message) {
    state.errors.photo = message;
    state.results.photo = null;
    render();
  }

  function drawPhotoBoxes(digits) {
    photoOverlay.replaceChildren();
    const width = photoImg.naturalWidth;
    const height = photoImg.naturalHeight;
    if (!width || !height) return;
    photoOverlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
    // Tags keep about the same size on screen whatever the photo's resolution.
    const scale = width / Math.max(1, photoImg.getBoundingClientRect().width);
    const size = 15 * scale;
    for (const d of digits) {
      const [x, y, w, h] = d.shown;
      const rect = document.createElementNS(SVG, "rect");
      const margin = 3 * scale;
      Object.entries({ x: x - margin, y: y - margin, width: w + 2 * margin, height: h + 2 * margin,
        rx: 4 * scale, class: "box" }).forEach(([k, v]) => rect.setAttribute(k, v));
      const tagW = size * 1.3;
      const tagH = size * 1.45;
      const ty = y - margin - tagH >= 0 ? y - margin - tagH : y + h + margin;
      const tag = document.createElementNS(SVG, "rect");
      Object.entries({ x: x - margin, y: ty, width: tagW, height: tagH, rx: 3 * scale, class: "box-tag" })
        .forEach(([k, v]) => tag.setAttribute(k, v));
      const text = document.createElementNS(SVG, "text");
      Object.entries({ x: x - margin + tagW / 2, y: ty + tagH / 2, "text-anchor": "middle",
        "dominant-baseline": "central", class: "box-label", "font-size": size })
        .forEach(([k, v]) => text.setAttribute(k, v));
      text.textContent = String(d.label);
      photoOverlay.append(rect, tag, text);
    }
  }

  photoImg.addEventListener("load", () => state.results.photo && drawPhotoBoxes(state.results.photo.digits));
  new ResizeObserver(() => state.results.photo && drawPhotoBoxes(state.results.photo.digits)).observe(photoImg);

  /* ------------------------------------------------------------------ talking to the server */
  // `place` maps a box from the sent image to where it is shown (the pad's crop); photos are shown as sent.
  async function send(tab, body, headers, place = (box) => box) {
    const previous = state.requests[tab];
    if (previous) previous.controller.abort();
    const request = { seq: ++state.seq, controller: new AbortController() };
    state.requests[tab] = request;
    setBusy(tab, true);
    const url = `/v1/read?details=true&mode=${encodeURIComponent(state.mode)}`;
    try {
      const response = await fetch(url, { method: "POST", body, headers, signal: request.controller.signal });
      const json = await response.json().catch(() => ({ detail: `the server answered ${response.status}` }));
      if (state.requests[tab] !== request) return;          // a newer read has started
      if (response.ok) {
        json.digits = json.digits.map((d) => ({ ...d, shown: place(d.box) }));
        state.results[tab] = json;
        state.errors[tab] = "";
      } else {
        state.results[tab] = null;
        state.errors[tab] = sentence(json.detail || `the server answered ${response.status}`);
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      state.results[tab] = null;
      state.errors[tab] = "Could not reach the server. Is it still running?";
    }
    state.requests[tab] = null;
    setBusy(tab, false);
    render();
    announceResult(tab);
  }

  const sentence = (text) => {
    const s = String(text);
    return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");
  };

  function setBusy(tab, busy) {
    if (tab === state.tab) $("result").dataset.state = busy ? "busy" : "done";
  }

  function resetResult(tab) {
    const pending = state.requests[tab];
    if (pending) pending.controller.abort();
    state.requests[tab] = null;
    state.results[tab] = null;
    state.errors[tab] = "";
    render();
  }

  /* ------------------------------------------------------------------ the result panel */
  const percent = (p) => `${(p * 100).toFixed(p >= 0.995 ? 0 : 1)}%`;

  function render() {
    const tab = state.tab;
    const result = state.results[tab];
    const error = state.errors[tab];
    const el = {
      empty: $("result-empty"), main: $("result-main"), text: $("result-text"), conf: $("result-confidence"),
      chart: $("chart"), chips: $("chips"), hint: $("result-hint"), error: $("result-error"),
    };
    $("result").dataset.state = state.requests[tab] ? "busy" : result ? "done" : "empty";
    el.error.hidden = !error;
    el.error.textContent = error;
    el.hint.hidden = true;

    if (tab === "draw") {
      if (result) drawPadBoxes(result.digits);
      else clearBoxes();
    } else if (result) {
      drawPhotoBoxes(result.digits);
    } else {
      photoOverlay.replaceChildren();
    }

    if (!result) {
      el.empty.hidden = Boolean(error);
      el.empty.textContent = tab === "draw" ? "Nothing to read yet — draw on the pad." : "Choose a photo to read.";
      el.main.hidden = el.chart.hidden = el.chips.hidden = true;
      return;
    }
    el.empty.hidden = true;
    el.main.hidden = false;
    const digits = result.digits;

    if (!digits.length) {
      el.text.textContent = "—";
      el.conf.textContent = "No digits found.";
      el.chart.hidden = el.chips.hidden = true;
      showHint(el.hint, tab === "draw" ? "Draw a little larger, with dark, clear strokes." : "Try a closer, sharper photo.");
      return;
    }

    el.text.textContent = result.text;
    const lowest = Math.min(...digits.map((d) => d.confidence));
    if (digits.length === 1) {
      el.conf.innerHTML = "";
      el.conf.append(strong(percent(digits[0].confidence)), " confident");
      renderChart(el.chart, digits[0]);
      el.chart.hidden = false;
      el.chips.hidden = true;
    } else {
      el.conf.textContent = `${digits.length} digits · least sure ${percent(lowest)}`;
      renderChips(el.chips, digits);
      el.chips.hidden = false;
      el.chart.hidden = true;
    }
    if (lowest < UNSURE) {
      showHint(el.hint, tab === "draw"
        ? "Not sure about this one — try writing it larger or more clearly."
        : "Some digits are unclear — a closer, evenly lit photo helps.");
    }
  }

  function strong(text) {
    const s = document.createElement("strong");
    s.textContent = text;
    return s;
  }

  function showHint(el, text) {
    el.textContent = text;
    el.hidden = false;
  }

  // Ten bars; without probabilities from the server, one bar for the label read.
  function renderChart(chart, digit) {
    const probs = digit.probabilities || Array.from({ length: 10 }, (_, i) => (i === digit.label ? digit.confidence : 0));
    chart.replaceChildren(
      ...probs.map((p, i) => {
        const li = document.createElement("li");
        if (i === digit.label) li.className = "top";
        li.innerHTML =
          `<span class="bar-track" aria-hidden="true"><span class="bar"></span></span>` +
          `<span class="bar-label" aria-hidden="true">${i}</span>` +
          `<span class="sr-only">${i}: ${percent(p)}</span>`;
        li.querySelector(".bar").style.height = `${Math.max(0, Math.min(1, p)) * 100}%`;
        li.title = `${i}: ${percent(p)}`;
        return li;
      }),
    );
  }

  function renderChips(chips, digits) {
    chips.replaceChildren(
      ...digits.map((d) => {
        const li = document.createElement("li");
        if (d.confidence < UNSURE) li.className = "unsure";
        li.innerHTML =
          `<span class="chip-digit"></span>` +
          `<span class="chip-meter" aria-hidden="true"><span></span></span>` +
          `<span class="chip-conf"></span>`;
        li.querySelector(".chip-digit").textContent = String(d.label);
        li.querySelector(".chip-meter span").style.width = `${Math.round(d.confidence * 100)}%`;
        li.querySelector(".chip-conf").textContent = percent(d.confidence);
        li.setAttribute("aria-label", `${d.label}, ${percent(d.confidence)} confident`);
        return li;
      }),
    );
  }

  /* ------------------------------------------------------------------ screen readers */
  const announcer = $("announcer");
  function announce(text) {
    announcer.textContent = "";
    // A fresh text node so repeated identical readings are still announced.
    setTimeout(() => (announcer.textContent = text), 30);
  }

  function announceResult(tab) {
    if (tab !== state.tab) return;
    const result = state.results[tab];
    if (!result) {
      if (state.errors[tab]) announce(state.errors[tab]);
      return;
    }
    const digits = result.digits;
    if (!digits.length) announce("No digits found.");
    else if (digits.length === 1) announce(`Read ${digits[0].label}, ${percent(digits[0].confidence)} confident.`);
    else announce(`Read ${result.text.replace(/\n/g, ", ")}: ${digits.length} digits.`);
  }

  /* ------------------------------------------------------------------ start */
  fetch("/healthz")
    .then((r) => (r.ok ? r.json() : Promise.reject(r)))
    .then((health) => {
      $("model-name").textContent = `Model: ${health.model}`;
      state.maxBody = health.max_body_bytes;
      $("limit-mb").textContent = String(Math.floor(health.max_body_bytes / 1e6));
    })
    .catch(() => ($("model-name").textContent = "Model: not loaded"));

  $("api-example").textContent = `curl -F file=@photo.jpg ${location.origin}/v1/read`;
  state.mode = document.querySelector('input[name="mode"]:checked').value;
  redraw();
  updatePad();
  render();
})();
