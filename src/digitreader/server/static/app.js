/* digitreader's page: draw on the pad or drop in a photo; POST it to /v1/read; show the reading.
 * Plain JavaScript modules, no build step: pad.js (drawing), photo.js (photos), result.js (the panel);
 * this file holds the state, the tabs, the mode and the requests. */

import { createPad } from "./pad.js";
import { drawPhotoBoxes, shrinkIfHuge } from "./photo.js";
import { enableCorrections, showCorrection } from "./correct.js";
import { announce, renderResult, spoken } from "./result.js";

const $ = (id) => document.getElementById(id);

const READ_DELAY_MS = 300; // debounce between the last movement of the pen and a read
const TABS = ["draw", "photo"];

const state = {
  tab: "draw",
  mode: document.querySelector('input[name="mode"]:checked').value,
  results: { draw: null, photo: null }, // the last JSON of each tab, its boxes placed for display (`shown`)
  errors: { draw: "", photo: "" },
  requests: { draw: null, photo: null }, // the read in flight: its AbortController
  photo: null, // {blob, name}: what was uploaded and is shown
  sent: { draw: null, photo: null }, // the picture each tab last sent to be read (a Blob)
  maxBody: 10_000_000,
  timer: 0,
};

/* ------------------------------------------------------------------ the result panel, per tab */
function render() {
  const { tab } = state;
  const result = state.results[tab];
  renderResult(tab, result, state.errors[tab], Boolean(state.requests[tab]));
  const name = tab === "draw" ? "drawing.png" : state.photo && state.photo.name;
  showCorrection(result && state.sent[tab] ? { blob: state.sent[tab], name, text: result.text } : null);
  if (tab === "draw") {
    if (result) pad.drawBoxes(result.digits);
    else pad.clearBoxes();
  } else if (result) {
    drawPhotoBoxes($("photo-img"), $("photo-overlay"), result.digits);
  } else {
    $("photo-overlay").replaceChildren();
  }
}

/* ------------------------------------------------------------------ tabs (arrow keys move between them) */
function selectTab(name, focus) {
  state.tab = name;
  for (const key of TABS) {
    const tab = $(`tab-${key}`);
    tab.setAttribute("aria-selected", String(key === name));
    tab.tabIndex = key === name ? 0 : -1;
    $(`panel-${key}`).hidden = key !== name;
  }
  if (focus) $(`tab-${name}`).focus();
  render();
}

for (const [i, key] of TABS.entries()) {
  const tab = $(`tab-${key}`);
  tab.addEventListener("click", () => selectTab(key, false));
  tab.addEventListener("keydown", (event) => {
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    selectTab(TABS[(next + TABS.length) % TABS.length], true);
  });
}

for (const radio of document.querySelectorAll('input[name="mode"]')) {
  radio.addEventListener("change", () => {
    state.mode = radio.value;
    if (pad.hasInk()) readDrawing();
    if (state.photo) readPhoto();
  });
}

/* ------------------------------------------------------------------ reading */
// `place` maps a box from the sent image to where it is shown (the pad's crop); photos are shown as sent.
async function send(tab, body, headers, place = (box) => box) {
  if (state.requests[tab]) state.requests[tab].abort();
  const request = new AbortController();
  state.requests[tab] = request;
  if (tab === state.tab) $("result").dataset.state = "busy";
  const url = `/v1/read?details=true&mode=${encodeURIComponent(state.mode)}`;
  try {
    const response = await fetch(url, { method: "POST", body, headers, signal: request.signal });
    const json = await response.json().catch(() => ({ detail: `the server answered ${response.status}` }));
    if (state.requests[tab] !== request) return; // a newer read has started
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
  render();
  if (tab === state.tab) announce(state.results[tab] ? spoken(state.results[tab]) : state.errors[tab]);
}

function sentence(text) {
  const s = String(text);
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");
}

function resetResult(tab) {
  if (state.requests[tab]) state.requests[tab].abort();
  state.requests[tab] = null;
  state.results[tab] = null;
  state.errors[tab] = "";
  render();
}

/* ------------------------------------------------------------------ the drawing pad */
const pad = createPad($("draw-canvas"), $("draw-overlay"), () => {
  updatePad();
  scheduleRead(READ_DELAY_MS);
});

function scheduleRead(delay) {
  clearTimeout(state.timer);
  state.timer = setTimeout(readDrawing, delay);
}

function readDrawing() {
  clearTimeout(state.timer);
  if (!pad.hasInk()) return;
  pad.image((blob, place) => {
    if (!blob || !pad.hasInk()) return;
    state.sent.draw = blob;
    send("draw", blob, { "Content-Type": "image/png" }, place);
  });
}

function updatePad() {
  const ink = pad.hasInk();
  $("pad").classList.toggle("has-ink", ink);
  $("undo").disabled = !ink;
  $("clear").disabled = !ink;
}

function undo() {
  if (!pad.hasInk()) return;
  pad.undo();
  updatePad();
  if (pad.hasInk()) scheduleRead(60);
  else resetResult("draw");
}

function clearPad() {
  clearTimeout(state.timer);
  pad.clear();
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
  } else if (event.key === "Escape" && pad.hasInk()) {
    event.preventDefault();
    clearPad();
  }
});

/* ------------------------------------------------------------------ photos: picker, camera, drop, paste */
async function takePhoto(file) {
  if (file.type && !file.type.startsWith("image/")) {
    state.results.photo = null;
    state.errors.photo = `${file.name} is not an image.`;
    render();
    return;
  }
  const blob = await shrinkIfHuge(file, state.maxBody);
  state.photo = { blob, name: file.name || "photo" };
  const img = $("photo-img");
  $("photo-overlay").replaceChildren();
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
  img.alt = `The photo you chose: ${state.photo.name}`;
  $("photo-name").textContent = state.photo.name;
  $("dropzone").hidden = true;
  $("photo").hidden = false;
  readPhoto();
}

function readPhoto() {
  if (!state.photo) return;
  const form = new FormData();
  form.append("file", state.photo.blob, state.photo.name);
  state.sent.photo = state.photo.blob;
  send("photo", form, {});
}

for (const id of ["file-input", "camera-input"]) {
  $(id).addEventListener("change", (event) => {
    const file = event.target.files && event.target.files[0];
    event.target.value = "";
    if (file) takePhoto(file);
  });
}

$("photo-again").addEventListener("click", () => {
  state.photo = null;
  $("photo").hidden = true;
  $("dropzone").hidden = false;
  resetResult("photo");
  $("file-input").focus();
});

// Boxes follow the photo as it loads and as the layout resizes it.
const redrawPhotoBoxes = () => state.results.photo && render();
$("photo-img").addEventListener("load", redrawPhotoBoxes);
new ResizeObserver(redrawPhotoBoxes).observe($("photo-img"));

// Files dropped anywhere on the page go to the photo tab.
let dragDepth = 0;
const hasFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
document.addEventListener("dragenter", (event) => {
  if (!hasFiles(event)) return;
  dragDepth++;
  if (state.tab !== "photo") selectTab("photo", false);
  $("dropzone").classList.add("dragging");
});
document.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) $("dropzone").classList.remove("dragging");
});
document.addEventListener("dragover", (event) => {
  if (hasFiles(event)) event.preventDefault();
});
document.addEventListener("drop", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  $("dropzone").classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) takePhoto(file);
});
document.addEventListener("paste", (event) => {
  const files = Array.from(event.clipboardData ? event.clipboardData.files : []);
  const file = files.find((f) => f.type.startsWith("image/"));
  if (!file) return;
  event.preventDefault();
  selectTab("photo", false);
  takePhoto(file);
});

/* ------------------------------------------------------------------ start */
fetch("/healthz")
  .then((r) => (r.ok ? r.json() : Promise.reject(r)))
  .then((health) => {
    $("model-name").textContent = `Model: ${health.model}`;
    state.maxBody = health.max_body_bytes;
    $("limit-mb").textContent = String(Math.floor(health.max_body_bytes / 1e6));
    enableCorrections(health.corrections);
  })
  .catch(() => ($("model-name").textContent = "Model: not loaded"));

$("api-example").textContent = `curl -F file=@photo.jpg ${location.origin}/v1/read`;
updatePad();
render();
