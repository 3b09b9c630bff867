// Text put into the HTML report (its page and its inline SVG): the five characters that markup
// gives a meaning, as entities.
const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** `text` safe as an element's content and as a quoted attribute value, in HTML and in SVG. */
export function escapeMarkup(text: string): string {
    return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
