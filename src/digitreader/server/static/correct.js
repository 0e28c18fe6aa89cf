/* The "correct this reading" control: shown when the server keeps corrections (GET /healthz says so) and a
 * reading is on screen; sends the picture that was read and the corrected text to POST /v1/corrections,
 * which saves them where `digits finetune` takes them. */

const $ = (id) => document.getElementById(id);

let enabled = false;
let current = null; // {blob, name, text}: the picture read and what was read in it

export function enableCorrections(on) {
  enabled = Boolean(on);
  showCorrection(current);
}

export function showCorrection(next) {
  const fresh = !next || !current || next.blob !== current.blob || next.text !== current.text;
  current = next;
  const form = $("correct");
  form.hidden = !(enabled && current);
  if (!form.hidden && fresh) {
    $("correct-text").value = current.text;
    $("correct-status").textContent = "";
  }
}

$("correct").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  const form = new FormData();
  form.append("file", current.blob, current.name);
  form.append("text", $("correct-text").value);
  const status = $("correct-status");
  status.textContent = "Saving…";
  try {
    const response = await fetch("/v1/corrections", { method: "POST", body: form });
    const json = await response.json().catch(() => ({}));
    status.textContent = response.ok
      ? `Saved: "${json.text}", for fine-tuning.`
      : String(json.detail || `The server answered ${response.status}.`);
  } catch {
    status.textContent = "Could not reach the server.";
  }
});
