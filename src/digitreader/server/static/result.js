/* The result panel: the text read, the confidence, ten probability bars for one digit or a chip per digit
 * for a number, hints and errors; and what a screen reader hears. */

const UNSURE = 0.6; // below this confidence the page suggests a clearer try

export const percent = (p) => `${(p * 100).toFixed(p >= 0.995 ? 0 : 1)}%`;

const $ = (id) => document.getElementById(id);

const HINTS = {
  draw: {
    empty: "Nothing to read yet — draw on the pad.",
    none: "Draw a little larger, with dark, clear strokes.",
    unsure: "Not sure about this one — try writing it larger or more clearly.",
  },
  photo: {
    empty: "Choose a photo to read.",
    none: "Try a closer, sharper photo.",
    unsure: "Some digits are unclear — a closer, evenly lit photo helps.",
  },
};

/* Show `result` (the JSON of POST /v1/read, or null) or `error` for the tab `tab`; `busy` dims it. */
export function renderResult(tab, result, error, busy) {
  const el = {
    empty: $("result-empty"),
    main: $("result-main"),
    text: $("result-text"),
    conf: $("result-confidence"),
    chart: $("chart"),
    chips: $("chips"),
    hint: $("result-hint"),
    error: $("result-error"),
  };
  $("result").dataset.state = busy ? "busy" : result ? "done" : "empty";
  el.error.hidden = !error;
  el.error.textContent = error;
  el.hint.hidden = true;
  const hint = (text) => {
    el.hint.textContent = text;
    el.hint.hidden = false;
  };

  if (!result) {
    el.empty.hidden = Boolean(error);
    el.empty.textContent = HINTS[tab].empty;
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
    hint(HINTS[tab].none);
    return;
  }

  el.text.textContent = result.text;
  const lowest = Math.min(...digits.map((d) => d.confidence));
  if (digits.length === 1) {
    const strong = document.createElement("strong");
    strong.textContent = percent(digits[0].confidence);
    el.conf.replaceChildren(strong, " confident");
    renderChart(el.chart, digits[0]);
  } else {
    el.conf.textContent = `${digits.length} digits · least sure ${percent(lowest)}`;
    renderChips(el.chips, digits);
  }
  el.chart.hidden = digits.length !== 1;
  el.chips.hidden = digits.length === 1;
  if (lowest < UNSURE) hint(HINTS[tab].unsure);
}

// Ten bars; without probabilities from the server, one bar for the label read.
function renderChart(chart, digit) {
  const probs =
    digit.probabilities || Array.from({ length: 10 }, (_, i) => (i === digit.label ? digit.confidence : 0));
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

/* Say `text` through the polite live region (emptied first, so a repeated reading is said again). */
export function announce(text) {
  const announcer = $("announcer");
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = text), 30);
}

/* The sentence a screen reader hears for a reading. */
export function spoken(result) {
  const digits = result.digits;
  if (!digits.length) return "No digits found.";
  if (digits.length === 1) return `Read ${digits[0].label}, ${percent(digits[0].confidence)} confident.`;
  return `Read ${result.text.replace(/\n/g, ", ")}: ${digits.length} digits.`;
}
