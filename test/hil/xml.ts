/**
 * A strict little XML reader for tests (no XML library is installed): elements, attributes, text, the five
 * predefined entities and numeric references. It throws on anything not well formed: mismatched or unclosed
 * tags, unquoted or duplicate attributes, a bare '&' or '<' in text, characters XML 1.0 forbids.
 */
export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  readonly text: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*/;

function decode(s: string, at: number): string {
  if (/[<]/.test(s)) throw new Error(`'<' in text near offset ${at}`);
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) throw new Error(`bare '&' near offset ${at}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const v = named[ref];
    if (v === undefined) throw new Error(`unknown entity ${m} near offset ${at}`);
    return v;
  });
}

export function parseXml(xml: string): XmlElement {
  if (/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/u.test(xml)) throw new Error('a character XML 1.0 forbids');
  let i = 0;
  const skipWs = (): void => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++;
  };
  if (xml.startsWith('<?xml', i)) {
    const end = xml.indexOf('?>', i);
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  const element = (): XmlElement => {
    if (xml[i] !== '<') throw new Error(`expected '<' at ${i}`);
    i++;
    const name = NAME.exec(xml.slice(i))?.[0];
    if (name === undefined) throw new Error(`bad element name at ${i}`);
    i += name.length;
    const attributes: Record<string, string> = {};
    for (;;) {
      skipWs();
      if (xml.startsWith('/>', i)) {
        i += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (xml[i] === '>') {
        i++;
        break;
      }
      const an = NAME.exec(xml.slice(i))?.[0];
      if (an === undefined) throw new Error(`bad attribute at ${i} in <${name}>`);
      i += an.length;
      skipWs();
      if (xml[i] !== '=') throw new Error(`attribute ${an} without '=' at ${i}`);
      i++;
      skipWs();
      const q = xml[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute ${an} at ${i}`);
      const end = xml.indexOf(q, i + 1);
      if (end < 0) throw new Error(`unterminated attribute ${an}`);
      if (Object.hasOwn(attributes, an)) throw new Error(`duplicate attribute ${an} in <${name}>`);
      attributes[an] = decode(xml.slice(i + 1, end), i);
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      const lt = xml.indexOf('<', i);
      if (lt < 0) throw new Error(`<${name}> is not closed`);
      text += decode(xml.slice(i, lt), i);
      i = lt;
      if (xml.startsWith('</', i)) {
        i += 2;
        const close = NAME.exec(xml.slice(i))?.[0];
        if (close !== name) throw new Error(`</${close}> closes <${name}>`);
        i += close.length;
        skipWs();
        if (xml[i] !== '>') throw new Error(`bad closing tag of ${name}`);
        i++;
        return { name, attributes, children, text };
      }
      children.push(element());
    }
  };
  skipWs();
  const root = element();
  skipWs();
  if (i !== xml.length) throw new Error(`content after the root element at ${i}`);
  return root;
}
