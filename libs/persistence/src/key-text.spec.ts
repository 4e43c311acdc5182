import { keyText } from './key-text';

describe('keyText', () => {
  it('leaves ordinary text alone, unicode and SQL-looking text included', () => {
    for (const s of ['c1', 'żółć 🍪', "Robert'); DROP TABLE profile_tag;--", 'a\u0001b', '']) {
      expect(keyText(s)).toBe(s);
    }
  });

  it('escapes NUL and lone surrogates into text without either', () => {
    for (const s of ['a\u0000b', '\ud800', 'x\udc00y', '\u0001"already"']) {
      const out = keyText(s);
      expect(out).not.toContain('\u0000');
      expect(out.startsWith('\u0001')).toBe(true);
      expect(Buffer.from(out, 'utf8').toString('utf8')).toBe(out);
    }
  });

  it('is injective over plain, escaped-looking and escaped inputs', () => {
    const inputs = ['a\u0000b', '\u0001"a\\u0000b"', 'a', '\ud800', '\udc00', '\ufffd', '\u0001', '\u0001\u0001'];
    const outputs = inputs.map(keyText);
    expect(new Set(outputs).size).toBe(inputs.length);
  });
});
