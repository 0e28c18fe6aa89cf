/* The drawing pad: strokes drawn with a mouse, pen or finger (pointer events) as a thick smooth marker,
 * undo and clear, the image a read sends, and the boxes of a reading drawn over the ink. */

const INK = "#111418";
const SEND_SIDE = 200; // a drawing is sent cropped to its ink and at most this many pixels a side

const mid = (a, b) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];

/**
 * `canvas` holds the ink only (the dotted paper is CSS behind it); `overlay` holds the boxes.
 * `onInk(ended)` is called as the ink changes: `ended` is true once a stroke is finished.
 */
export function createPad(canvas, overlay, onInk) {
  const ctx = canvas.getContext("2d");
  const octx = overlay.getContext("2d");
  const stroke = canvas.width / 16; // a thick marker: reads like MNIST's strokes once scaled down
  let strokes = []; // each stroke: an array of [x, y] in canvas pixels
  let current = null;

  function setPen() {
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = stroke;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  function dot(p) {
    setPen();
    ctx.beginPath();
    ctx.arc(p[0], p[1], stroke / 2, 0, Math.PI * 2);
    ctx.fill();
  }

  // A stroke is a smooth curve through the midpoints of its samples (quadratic pieces), the same whether
  // it is drawn piece by piece while the pointer moves or all at once on redraw.
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
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const s of strokes) drawStroke(s);
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
    current = [canvasPoint(event)];
    strokes.push(current);
    dot(current[0]);
    clearBoxes();
    onInk(false);
  });

  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const p = canvasPoint(e);
      const last = current[current.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) < 1.5) continue;
      current.push(p);
      drawPiece(current);
    }
    onInk(false);
  });

  function endStroke() {
    if (!current) return;
    finishStroke(current);
    current = null;
    onInk(true);
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);

  function clearBoxes() {
    octx.clearRect(0, 0, overlay.width, overlay.height);
  }

  return {
    hasInk: () => strokes.length > 0,

    undo() {
      current = null;
      strokes.pop();
      redraw();
      clearBoxes();
    },

    clear() {
      current = null;
      strokes = [];
      redraw();
      clearBoxes();
    },

    /* What a read sends: the ink's bounding box plus a margin, at most SEND_SIDE a side, on white (reading
     * cost grows with pixels, and the reader normalises size anyway). Calls back with the PNG blob and
     * `place`, which maps a box in that image back onto the pad. */
    image(callback) {
      const xs = strokes.flat().map((p) => p[0]);
      const ys = strokes.flat().map((p) => p[1]);
      const half = stroke / 2;
      const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) + stroke;
      const margin = Math.max(stroke, span * 0.15);
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
    },

    clearBoxes,

    /* Each digit's box (`shown`, in pad pixels) in the marking pen's red, with a tag holding its label. */
    drawBoxes(digits) {
      clearBoxes();
      const pen = getComputedStyle(document.documentElement).getPropertyValue("--pen").trim() || "#d8432f";
      octx.lineWidth = 3;
      octx.strokeStyle = pen;
      octx.font = "700 22px system-ui, sans-serif";
      octx.textBaseline = "middle";
      for (const d of digits) {
        const [x, y, w, h] = d.shown;
        const gap = 8;
        octx.beginPath();
        octx.roundRect(x - gap, y - gap, w + 2 * gap, h + 2 * gap, 8);
        octx.stroke();
        const tag = String(d.label);
        const tw = octx.measureText(tag).width + 14;
        const tx = Math.max(0, Math.min(x - gap, overlay.width - tw));
        const ty = y - gap - 28 >= 0 ? y - gap - 28 : Math.min(y + h + gap, overlay.height - 26);
        octx.fillStyle = pen;
        octx.beginPath();
        octx.roundRect(tx, ty, tw, 26, 6);
        octx.fill();
        octx.fillStyle = "#fff";
        octx.fillText(tag, tx + 7, ty + 13.5);
      }
    },
  };
}
