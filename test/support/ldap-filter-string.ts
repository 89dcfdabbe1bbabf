/**
 * RFC 4515 filter strings to the plugin's Filter objects, so LDAP tests can be written as
 * ldapsearch users write filters: `(&(objectClass=posixAccount)(uid=alice))`. A test helper only:
 * the server gets filters from BER (ldap.codec.ts), never from strings. Values take `\XX` escapes
 * and are UTF-8; `(a=*)` is presence, a value with an unescaped `*` is a substring filter.
 */
import type { Filter } from '../../src/plugins/ldap/ldap.types';

export function parseFilter(text: string): Filter {
  const parser = new Parser(text);
  const filter = parser.filter();
  if (parser.pos !== text.length) throw new Error(`filter: trailing text at ${parser.pos} in ${text}`);
  return filter;
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  private fail(what: string): never {
    throw new Error(`filter: ${what} at ${this.pos} in ${this.text}`);
  }

  private expect(ch: string): void {
    if (this.text[this.pos] !== ch) this.fail(`expected ${ch}`);
    this.pos++;
  }

  filter(): Filter {
    this.expect('(');
    let f: Filter;
    switch (this.text[this.pos]) {
      case '&':
        this.pos++;
        f = { type: 'and', filters: this.list() };
        break;
      case '|':
        this.pos++;
        f = { type: 'or', filters: this.list() };
        break;
      case '!':
        this.pos++;
        f = { type: 'not', filter: this.filter() };
        break;
      default:
        f = this.item();
    }
    this.expect(')');
    return f;
  }

  private list(): Filter[] {
    const filters: Filter[] = [];
    while (this.text[this.pos] === '(') filters.push(this.filter());
    return filters;
  }

  private item(): Filter {
    const attrMatch = /^[A-Za-z0-9.;-]*/.exec(this.text.slice(this.pos));
    const attribute = attrMatch ? attrMatch[0] : '';
    this.pos += attribute.length;
    const rest = this.text.slice(this.pos);
    if (rest.startsWith(':')) return this.extensible(attribute);
    if (attribute === '') this.fail('expected an attribute');
    for (const [op, type] of [
      ['~=', 'approx'],
      ['>=', 'ge'],
      ['<=', 'le'],
    ] as const) {
      if (rest.startsWith(op)) {
        this.pos += 2;
        return { type, attribute, value: unescape(this.rawValue()) };
      }
    }
    this.expect('=');
    const raw = this.rawValue();
    if (raw === '*') return { type: 'present', attribute };
    const parts = raw.split('*');
    if (parts.length === 1) return { type: 'equality', attribute, value: unescape(raw) };
    const initial = parts[0] === '' ? null : unescape(parts[0]);
    const final = parts[parts.length - 1] === '' ? null : unescape(parts[parts.length - 1]);
    const any = parts.slice(1, -1).map(unescape);
    if (any.some((a) => a === '')) this.fail('empty substring between two *');
    return { type: 'substrings', attribute, initial, any, final };
  }

  private extensible(attribute: string): Filter {
    let dnAttributes = false;
    let matchingRule: string | null = null;
    while (this.text.startsWith(':', this.pos) && !this.text.startsWith(':=', this.pos)) {
      this.pos++;
      const word = /^[A-Za-z0-9.-]+/.exec(this.text.slice(this.pos))?.[0] ?? this.fail('expected dn or a rule');
      this.pos += word.length;
      if (word.toLowerCase() === 'dn' && !dnAttributes && matchingRule === null) dnAttributes = true;
      else if (matchingRule === null) matchingRule = word;
      else this.fail('too many parts');
    }
    this.expect(':');
    this.expect('=');
    return {
      type: 'extensible',
      matchingRule,
      attribute: attribute === '' ? null : attribute,
      value: unescape(this.rawValue()),
      dnAttributes,
    };
  }

  /** Up to the closing parenthesis, escapes kept. */
  private rawValue(): string {
    const end = this.text.indexOf(')', this.pos);
    if (end < 0) this.fail('unterminated value');
    const raw = this.text.slice(this.pos, end);
    if (raw.includes('(')) this.fail('unescaped ( in value');
    this.pos = end;
    return raw;
  }
}

function unescape(raw: string): string {
  const bytes: number[] = [];
  const chars = [...raw]; // code points, so that a character outside the BMP stays whole
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] === '\\') {
      const hex = chars.slice(i + 1, i + 3).join('');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`filter: bad escape in ${raw}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(chars[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
