/* Photos: scaling huge ones down before upload, and the boxes of a reading drawn over the photo (SVG). */

const MAX_PHOTO_SIDE = 4000; // larger photos are scaled down in the browser before upload...
const SCALED_SIDE = 3000; // ...to this many pixels on the long side
const SVG = "http://www.w3.org/2000/svg";

/* Phone photos can be 50 megapixels: scale those (and files near the server's `maxBody`) down here, where
 * the browser applies EXIF orientation, so uploads stay small. Formats the browser cannot decode go as they
 * are (the server may still read them). */
export async function shrinkIfHuge(file, maxBody) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return file;
  }
  const side = Math.max(bitmap.width, bitmap.height);
  if (side <= MAX_PHOTO_SIDE && file.size <= maxBody * 0.9) return file;
  const scale = Math.min(1, SCALED_SIDE / side);
  const c = document.createElement("canvas");
  c.width = Math.round(bitmap.width * scale);
  c.height = Math.round(bitmap.height * scale);
  c.getContext("2d").drawImage(bitmap, 0, 0, c.width, c.height);
  const blob = await new Promise((resolve) => c.toBlob(resolve, "image/jpeg", 0.92));
  return blob || file;
}

function svg(name, attributes) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
  return el;
}

/* Each digit's box (`shown`, in image pixels) and a tag with its label, over `img`, in the SVG `overlay`.
 * Tags keep about the same size on screen whatever the photo's resolution. */
export function drawPhotoBoxes(img, overlay, digits) {
  overlay.replaceChildren();
  const width = img.naturalWidth;
  const height = img.naturalHeight;
  if (!width || !height) return;
  overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const scale = width / Math.max(1, img.getBoundingClientRect().width);
  const size = 15 * scale;
  const margin = 3 * scale;
  for (const d of digits) {
    const [x, y, w, h] = d.shown;
    const tagW = size * 1.3;
    const tagH = size * 1.45;
    const ty = y - margin - tagH >= 0 ? y - margin - tagH : y + h + margin;
    const box = { x: x - margin, y: y - margin, width: w + 2 * margin, height: h + 2 * margin };
    const label = svg("text", {
      x: x - margin + tagW / 2,
      y: ty + tagH / 2,
      "text-anchor": "middle",
      "dominant-baseline": "central",
      class: "box-label",
      "font-size": size,
    });
    label.textContent = String(d.label);
    overlay.append(
      svg("rect", { ...box, rx: 4 * scale, class: "box" }),
      svg("rect", { x: x - margin, y: ty, width: tagW, height: tagH, rx: 3 * scale, class: "box-tag" }),
      label,
    );
  }
}
