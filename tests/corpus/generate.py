#!/usr/bin/env python3
"""Generate the labeled detection corpus in this folder.

Writes `labeled.jsonl` (kinds the built-in pack detects today, including the
whole-value kinds of `detectors/keys.yaml`) and `labeled_extended.jsonl`
(national ids and vendor secrets whose detectors are still being written).
The last lines of `labeled.jsonl` hold personal names and come from their
own random generator, so adding them left the lines before unchanged. Each
output line is one JSON object:

- `line`: the log line;
- `pii`: `[{start, end, type, value}]`, the personal values, with offsets in
  characters (Python string indices) into `line`;
- `decoys`: `[{start, end, text, kind}]`, look-alikes that must survive;
- `template`: the layout the line was made from.

Every value is invented: domains are RFC 2606 names, addresses come from
the RFC 5737 and RFC 3849 documentation ranges, and every number that has a
check digit is made to pass it (or, for decoys, to fail it). The output is
the same on every run for a given seed, so the files are committed and the
generator is rerun only when it changes.

Usage: `python3 tests/corpus/generate.py [--seed N] [--lines N]
[--no-extended]`.
"""

import argparse
import base64
import json
import random
import string
import zlib
from pathlib import Path

SEED = 20250611
BASE_LINES = 3600
NAME_LINES = 300
EXTENDED_LINES = 1500

# Kind names for detectors that are being added. The engine has to use these
# names for `tests/detection_quality.rs` to score them, so rename here (and
# regenerate) if a detector lands under another name.
EXTENDED_KINDS = {
    "imei": "IMEI",
    "itin": "US_ITIN",
    "aba": "ABA_ROUTING",
    "nhs": "UK_NHS",
    "bsn": "NL_BSN",
    "dni": "ES_DNI",
    "nie": "ES_NIE",
    "codice_fiscale": "IT_CODICE_FISCALE",
    "nir": "FR_NIR",
    "de_tax_id": "DE_TAX_ID",
    "cpf": "BR_CPF",
    "sin": "CA_SIN",
    "aadhaar": "IN_AADHAAR",
    "cn_resident_id": "CN_RESIDENT_ID",
    "personnummer": "SE_PERSONNUMMER",
    "github": "GITHUB_TOKEN",
    "gitlab": "GITLAB_TOKEN",
    "slack": "SLACK_TOKEN",
    "stripe": "STRIPE_KEY",
    "google": "GOOGLE_API_KEY",
    "pem": "PRIVATE_KEY",
    "userinfo": "PASSWORD",
    "basic": "BASIC_AUTH",
}

ALNUM = string.ascii_letters + string.digits
BASE64URL = ALNUM + "-_"
UPPER_ALNUM = string.ascii_uppercase + string.digits
BASE32_LOWER = "abcdefghijklmnopqrstuvwxyz234567"


# --- line building --------------------------------------------------------


class P:
    """A personal value of `kind`, labeled where it is written."""

    def __init__(self, kind, value):
        self.kind = kind
        self.value = value


class D:
    """A look-alike of `kind` that must survive redaction."""

    def __init__(self, kind, text):
        self.kind = kind
        self.text = text


class S:
    """A JSON string made of plain text, `P` and `D` parts."""

    def __init__(self, *parts):
        self.parts = parts


class Line:
    """Collects the text of one line with its labels and decoys."""

    def __init__(self, template):
        self.template = template
        self.chunks = []
        self.size = 0
        self.pii = []
        self.decoys = []

    def add(self, *parts):
        for part in parts:
            if isinstance(part, P):
                self._span(part.value, self.pii, type=part.kind, value=part.value)
            elif isinstance(part, D):
                self._span(part.text, self.decoys, text=part.text, kind=part.kind)
            else:
                self._text(part)
        return self

    def _text(self, text):
        self.chunks.append(text)
        self.size += len(text)

    def _span(self, written, spans, **fields):
        start = self.size
        self._text(written)
        spans.append({"start": start, "end": self.size, **fields})

    def record(self):
        line = "".join(self.chunks)
        if "\n" in line or "\r" in line:
            raise ValueError(f"line break in a generated line: {line!r}")
        for span in self.pii:
            if line[span["start"] : span["end"]] != span["value"]:
                raise ValueError(f"label does not match its text in {line!r}")
        return {
            "line": line,
            "pii": self.pii,
            "decoys": self.decoys,
            "template": self.template,
        }


def json_escape(text):
    return json.dumps(text, ensure_ascii=False)[1:-1]


class JsonWriter:
    """Writes a JSON document into a `Line`, labeling values where they sit.

    A `P` whose value is a string is labeled inside its quotes, in its
    escaped form, because that is the text of the line. A `P` holding an int
    is written as a bare JSON number and labeled as such.
    """

    def __init__(self, line, rng):
        self.line = line
        compact = rng.random() < 0.5
        self.colon = ":" if compact else ": "
        self.comma = "," if compact else ", "

    def write(self, value):
        line = self.line
        if isinstance(value, dict):
            line.add("{")
            for index, (key, item) in enumerate(value.items()):
                if index:
                    line.add(self.comma)
                line.add(json.dumps(key, ensure_ascii=False), self.colon)
                self.write(item)
            line.add("}")
        elif isinstance(value, list):
            line.add("[")
            for index, item in enumerate(value):
                if index:
                    line.add(self.comma)
                self.write(item)
            line.add("]")
        elif isinstance(value, P):
            self._leaf(value.value, lambda text: P(value.kind, text))
        elif isinstance(value, D):
            self._leaf(value.text, lambda text: D(value.kind, text))
        elif isinstance(value, S):
            line.add('"')
            for part in value.parts:
                if isinstance(part, P):
                    line.add(P(part.kind, json_escape(part.value)))
                elif isinstance(part, D):
                    line.add(D(part.kind, json_escape(part.text)))
                else:
                    line.add(json_escape(part))
            line.add('"')
        else:
            line.add(json.dumps(value, ensure_ascii=False))

    def _leaf(self, raw, wrap):
        if isinstance(raw, int):
            self.line.add(wrap(str(raw)))
        else:
            self.line.add('"', wrap(json_escape(raw)), '"')


def json_line(template, document, rng):
    line = Line(template)
    JsonWriter(line, rng).write(document)
    return line


# --- check digits ---------------------------------------------------------


def luhn_check_digit(digits):
    """Return the digit that makes `digits` + it pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_valid(digits):
    return luhn_check_digit(digits[:-1]) == digits[-1]


def iban_remainder(iban):
    compact = iban.replace(" ", "")
    rotated = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rotated)
    return int(number) % 97


def iban_with_check(country, bban):
    remainder = iban_remainder(country + "00" + bban)
    return f"{country}{98 - remainder:02d}{bban}"


VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
VERHOEFF_INVERSE = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_check_digit(digits):
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = VERHOEFF_D[check][VERHOEFF_P[(index + 1) % 8][int(char)]]
    return str(VERHOEFF_INVERSE[check])


def verhoeff_valid(digits):
    check = 0
    for index, char in enumerate(reversed(digits)):
        check = VERHOEFF_D[check][VERHOEFF_P[index % 8][int(char)]]
    return check == 0


def aba_valid(digits):
    weights = [3, 7, 1] * 3
    return sum(int(d) * w for d, w in zip(digits, weights)) % 10 == 0


def nhs_check_digit(digits):
    """Return the NHS check digit of 9 digits, or None when it would be 10."""
    total = sum(int(d) * (10 - index) for index, d in enumerate(digits))
    check = 11 - total % 11
    if check == 11:
        return "0"
    if check == 10:
        return None
    return str(check)


def bsn_valid(digits):
    weights = [9, 8, 7, 6, 5, 4, 3, 2, -1]
    return sum(int(d) * w for d, w in zip(digits, weights)) % 11 == 0


DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

CODICE_ODD = {
    **dict(zip("0123456789", [1, 0, 5, 7, 9, 13, 15, 17, 19, 21])),
    **dict(
        zip(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12,
             14, 16, 10, 22, 25, 24, 23],
        )
    ),
}


def codice_check_char(first15):
    total = 0
    for index, char in enumerate(first15):
        if index % 2 == 0:
            total += CODICE_ODD[char]
        elif char.isdigit():
            total += int(char)
        else:
            total += ord(char) - ord("A")
    return chr(ord("A") + total % 26)


def de_tax_check_digit(first10):
    """ISO 7064 MOD 11,10, the check of the German Steuer-IdNr."""
    product = 10
    for char in first10:
        total = (int(char) + product) % 10
        if total == 0:
            total = 10
        product = (total * 2) % 11
    check = 11 - product
    return "0" if check == 10 else str(check)


def cpf_check_digits(first9):
    digits = [int(d) for d in first9]
    for length in (9, 10):
        total = sum(d * (length + 1 - index) for index, d in enumerate(digits))
        remainder = total % 11
        digits.append(0 if remainder < 2 else 11 - remainder)
    return "".join(str(d) for d in digits[9:])


CN_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def cn_check_char(first17):
    total = sum(int(d) * w for d, w in zip(first17, CN_WEIGHTS))
    return "10X98765432"[total % 11]


def self_check():
    """Check each algorithm against published example numbers."""
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")
    assert iban_remainder("GB82WEST12345698765432") == 1
    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_valid("2363")
    assert aba_valid("011000015")
    assert nhs_check_digit("943476591") == "9"
    assert bsn_valid("111222333")
    assert DNI_LETTERS[12345678 % 23] == "Z"
    assert codice_check_char("RSSMRA85T10A562") == "S"
    assert cpf_check_digits("111444777") == "35"
    assert cn_check_char("11010519491231002") == "X"
    assert luhn_valid("8112189876")
    assert luhn_valid("046454286")


# --- values ---------------------------------------------------------------

WORDS = [
    "amber", "birch", "cedar", "delta", "ember", "fjord", "garnet", "harbor",
    "indigo", "juniper", "kestrel", "lumen", "maple", "nimbus", "onyx", "pine",
    "quartz", "raven", "sable", "tundra", "umber", "vale", "willow", "yarrow",
]
GIVEN = ["ana", "bo", "chidi", "dana", "eun", "farah", "goran", "hana", "ivo",
         "jules", "kofi", "lena", "mateo", "nia", "omar", "priya", "quinn",
         "rafa", "sven", "tomas", "uma", "vera", "wen", "yusuf", "zoe"]
FAMILY = ["alder", "brook", "castell", "dunmore", "ekwueme", "falk", "grady",
          "holm", "iwata", "jansen", "kowal", "lindqvist", "moreau", "nakamura",
          "okafor", "petrov", "quist", "rossi", "santos", "thorne", "ueda",
          "varga", "whitlock", "yilmaz", "zeller"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com",
           "corp.example.org", "shop.example", "users.test", "eu.example.net",
           "billing.example.com", "support.example.org"]
HOSTS = ["api.example.com", "web-01.example.net", "db.internal.example",
         "cache-3.example.org", "auth.example.com", "node-7.cluster.test"]
PATHS = ["/api/v1/orders", "/api/v2/users/me", "/login", "/checkout",
         "/static/app.js", "/healthz", "/v1/payments", "/account/settings",
         "/search", "/oauth/callback", "/graphql", "/export/csv"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
UNICODE_NOTES = ["Zürich", "São Paulo", "Kraków", "東京", "Ελλάδα", "naïve",
                 "café ☕", "Ørsted", "😀 ok", "Dvořák"]

# Personal names for the PERSON_NAME layouts: given names from many
# countries, and family names with particles, hyphens, apostrophes and
# letters outside ASCII. CENSUS_GIVEN are given names that
# detectors/given_names.txt lists, for free text, where the detector needs
# a known given name.
PERSON_GIVEN = ["Łukasz", "Siân", "José", "Małgorzata", "Søren", "Anaïs", "Björn",
                "Chiara", "Oluwaseun", "Thandiwe", "Inès", "Mateus", "Zofia",
                "Hiroshi", "Priya", "Émile", "Grzegorz", "Aoife", "Dagný", "Rolf-Peter"]
CENSUS_GIVEN = ["Terry", "Emily", "Linda", "Claire", "Kevin", "Charlotte", "Austin",
                "Maria", "Helen", "Victor", "Rosa", "Daniel", "Sophie", "Marco",
                "Julia", "Thomas", "Anna", "Peter", "Laura", "Martin", "Stéphanie", "René"]
PERSON_FAMILY = ["Kowalczyk", "Żak", "Wiśniewska", "Bzdęga", "Müller-Lüdenscheidt",
                 "O'Brien", "van Dijk", "de la Cruz", "da Silva", "van der Berg",
                 "Nakamura", "Øverby", "Ólafsdóttir", "Çelik", "Đorđević", "Šimunović",
                 "MacLeod", "Fitzgerald", "dos Santos", "Ferreira"]
# Look-alikes of names: classes, products, services and worker names that a
# name detector must leave alone.
CLASS_NAMES = ["PaymentService", "OrderController", "InvoiceJob", "KafkaConsumerWorker",
               "UserRepositoryImpl", "RetryTemplate"]
PRODUCT_NAMES = ["Apache Kafka", "Spring Boot", "Google Chrome", "Microsoft Edge",
                 "Amazon Aurora", "Red Hat", "Elastic Search", "Visual Studio"]
SERVICE_NAMES = ["checkout", "payment-gateway", "Payment Gateway", "Order Service",
                 "api-gateway", "Billing API", "ledger"]


class Values:
    """Invented values of every kind, drawn from one seeded generator."""

    def __init__(self, rng):
        self.rng = rng

    def pick(self, items):
        return self.rng.choice(items)

    def chars(self, alphabet, count):
        return "".join(self.rng.choice(alphabet) for _ in range(count))

    def digits(self, count):
        return self.chars(string.digits, count)

    # Base kinds.

    def email(self):
        rng = self.rng
        given, family = self.pick(GIVEN), self.pick(FAMILY)
        local = self.pick([
            f"{given}.{family}",
            f"{given}{rng.randint(1, 999)}",
            f"{given[0]}{family}",
            f"{given}_{family}",
            f"{given}+{self.pick(WORDS)}",
            f"{family}-{given}",
        ])
        if rng.random() < 0.15:
            local = local.capitalize()
        return f"{local}@{self.pick(DOMAINS)}"

    def ipv4(self):
        prefix = self.pick(["192.0.2", "198.51.100", "203.0.113"])
        return f"{prefix}.{self.rng.randint(1, 254)}"

    def ipv6(self):
        rng = self.rng
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(6)]
        form = rng.randrange(5)
        if form == 0:
            value = f"2001:db8::{groups[0]}"
        elif form == 1:
            value = f"2001:db8:{groups[0]}:{groups[1]}::{groups[2]}:{groups[3]}"
        elif form == 2:
            full = ["2001", "0db8"] + [f"{rng.randint(0, 0xFFFF):04x}" for _ in range(6)]
            value = ":".join(full)
        elif form == 3:
            value = f"::ffff:{self.ipv4()}"
        else:
            value = f"2001:db8:{groups[0]}::{rng.randint(1, 0xFFF):x}"
        if rng.random() < 0.1:
            value = value.upper()
        return value

    def phone_e164(self):
        rng = self.rng
        form = rng.randrange(4)
        if form == 0:
            number = f"+1202555{rng.randint(100, 199):04d}"
            return self.pick([number, f"+1 202 555 {number[-4:]}", f"+1-202-555-{number[-4:]}"])
        if form == 1:
            return self.pick([f"+44 20 7946 {rng.randint(0, 999):04d}",
                              f"+447700900{rng.randint(0, 999):03d}"])
        if form == 2:
            return f"+61 491 570 {rng.randint(100, 199)}"
        return f"+49 30 {rng.randint(1000000, 9999999)}"

    def phone_national(self):
        rng = self.rng
        tail = rng.randint(100, 199)
        return self.pick([
            f"(202) 555-0{tail}",
            f"202-555-0{tail}",
            f"020 7946 0{tail}",
            f"07700 900{tail}",
            f"0491 570 {tail}",
            f"030 {rng.randint(1000000, 9999999)}",
        ])

    def ssn(self):
        rng = self.rng
        area = rng.choice([a for a in range(1, 900) if a != 666])
        return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"

    def card_digits(self):
        rng = self.rng
        prefix, length = self.pick([
            ("4", 16), ("4", 16), ("4", 13), ("51", 16), ("55", 16),
            ("2221", 16), ("2720", 16), ("34", 15), ("37", 15), ("6011", 16),
            ("65", 16), ("3530", 16), ("3589", 16), ("36", 14), ("62", 16),
            ("62", 19), ("6304", 16), ("2200", 16),
        ])
        body = prefix + self.digits(length - len(prefix) - 1)
        return body + luhn_check_digit(body)

    def card(self):
        digits = self.card_digits()
        separator = self.pick(["", " ", "-"])
        if not separator:
            return digits
        if len(digits) == 15:
            groups = [digits[:4], digits[4:10], digits[10:]]
        elif len(digits) == 14:
            groups = [digits[:4], digits[4:10], digits[10:]]
        else:
            groups = [digits[i : i + 4] for i in range(0, len(digits), 4)]
        return separator.join(groups)

    # Country, BBAN layout (n digits, a upper-case letters, c letters or
    # digits), from the SWIFT IBAN registry.
    IBAN_LAYOUTS = {
        "DE": "18n", "GB": "4a14n", "FR": "10n11c2n", "NL": "4a10n",
        "ES": "20n", "IT": "1a10n12c", "BE": "12n", "CH": "5n12c",
        "AT": "16n", "PL": "24n", "SE": "20n", "NO": "11n", "IE": "4a14n",
        "PT": "21n", "DK": "14n", "FI": "14n", "LU": "3n13c", "SA": "2n18c",
        "AE": "19n", "MT": "4a5n18c", "GR": "7n16c", "CZ": "20n",
    }

    def bban(self, layout):
        alphabets = {"n": string.digits, "a": string.ascii_uppercase, "c": UPPER_ALNUM}
        out = ""
        number = ""
        for char in layout:
            if char.isdigit():
                number += char
            else:
                out += self.chars(alphabets[char], int(number))
                number = ""
        return out

    def iban_compact(self):
        country = self.pick(sorted(self.IBAN_LAYOUTS))
        return iban_with_check(country, self.bban(self.IBAN_LAYOUTS[country]))

    def iban(self):
        compact = self.iban_compact()
        if self.rng.random() < 0.5:
            return compact
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))

    def jwt(self):
        def encode(obj):
            raw = json.dumps(obj, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        header = {"alg": self.pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
        claims = {
            "sub": f"user-{self.digits(6)}",
            "iat": 1700000000 + self.rng.randint(0, 30000000),
            "scope": self.pick(["read", "read write", "admin"]),
        }
        signature = self.chars(BASE64URL, self.pick([43, 86]))
        return f"{encode(header)}.{encode(claims)}.{signature}"

    def opaque_token(self):
        return self.chars(ALNUM + "._-", self.rng.randint(24, 48))

    def aws_key(self):
        return self.pick(["AKIA", "ASIA"]) + self.chars(UPPER_ALNUM, 16)

    def password(self, quoted=False):
        alphabet = ALNUM + "!#$%*+-./:=?^_~"
        if quoted:
            alphabet += " ,;&'"
        value = self.chars(alphabet, self.rng.randint(8, 20))
        # A leading or trailing space reads as layout, not as the password.
        return value.strip() or "x9!Qw7$e"

    def mac(self):
        rng = self.rng
        first = rng.randrange(256) & 0xFE | 0x02
        pairs = [first] + [rng.randrange(256) for _ in range(5)]
        upper = rng.random() < 0.3
        form = rng.randrange(3)
        if form == 2:
            text = "".join(f"{p:02x}" for p in pairs)
            if text.isdigit():
                text = "a" + text[1:]
            value = ".".join(text[i : i + 4] for i in range(0, 12, 4))
        else:
            value = (":" if form == 0 else "-").join(f"{p:02x}" for p in pairs)
        return value.upper() if upper else value

    def user_id(self):
        rng = self.rng
        return self.pick([
            f"u-{rng.randint(10000, 99999)}",
            f"{self.pick(GIVEN)}.{self.pick(FAMILY)}",
            f"{self.pick(GIVEN)}{rng.randint(1, 99)}",
            f"CUST-{rng.randint(1000, 9999)}",
        ])

    def session(self):
        return self.chars(string.hexdigits.lower()[:16], 32)

    def full_name(self):
        return f"{self.pick(GIVEN).capitalize()} {self.pick(FAMILY).capitalize()}"

    def person_name(self, given=PERSON_GIVEN):
        """A name of one or two given names and a family name."""
        names = [self.pick(given)]
        if self.rng.random() < 0.15:
            names.append(self.pick(CENSUS_GIVEN + PERSON_GIVEN))
        names.append(self.pick(PERSON_FAMILY))
        return " ".join(names)

    def street(self):
        return f"{self.rng.randint(1, 240)} {self.pick(WORDS).capitalize()} Street"

    def birth_date(self):
        rng = self.rng
        return f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"

    # Look-alikes.

    def iso_time(self):
        rng = self.rng
        fraction = self.pick(["", f".{rng.randint(0, 999):03d}", f".{rng.randint(0, 999999999):09d}"])
        zone = self.pick(["Z", "+00:00", "+02:00", "-05:00"])
        return (f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
                f"{fraction}{zone}")

    def cri_time(self):
        rng = self.rng
        return (f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
                f"{rng.randint(0, 999999999):09d}Z")

    def syslog_time(self):
        rng = self.rng
        month = self.pick(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                           "Sep", "Oct", "Nov", "Dec"])
        return (f"{month} {rng.randint(1, 28):2d} {rng.randint(0, 23):02d}:"
                f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")

    def clf_time(self):
        rng = self.rng
        return (f"{rng.randint(1, 28):02d}/{self.pick(['Mar', 'Jun', 'Oct'])}/2025:"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} +0000")

    def clock(self):
        rng = self.rng
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"

    def epoch_seconds(self):
        return str(self.rng.randint(1600000000, 1800000000))

    def epoch_millis(self):
        return str(self.rng.randint(1600000000000, 1800000000000))

    def duration(self):
        rng = self.rng
        return self.pick([f"{rng.randint(1, 999)}ms", f"{rng.randint(1, 59)}.{rng.randint(0, 999):03d}s",
                          f"{rng.randint(1, 90)}m{rng.randint(0, 59)}s", f"{rng.randint(100, 99999)}us"])

    def version(self):
        rng = self.rng
        a, b, c = rng.randint(0, 20), rng.randint(0, 30), rng.randint(0, 200)
        return self.pick([f"{a}.{b}.{c}", f"v{a}.{b}.{c}.{rng.randint(0, 99)}",
                          f"{a}.{b}.{c}-beta", f"{a}.{b}.{c}-rc.{rng.randint(1, 9)}"])

    def uuid(self):
        text = self.chars("0123456789abcdef", 32)
        return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"

    def hex_id(self, count):
        return self.chars("0123456789abcdef", count)

    def hdfs_block(self):
        return f"blk_{self.pick(['-', ''])}{self.rng.randint(10**17, 9 * 10**18)}"

    def order_id(self):
        """A 16-digit number that fails the Luhn check."""
        while True:
            digits = self.pick(["4", "5", "6", "3"]) + self.digits(15)
            if not luhn_valid(digits):
                return digits

    def bad_iban(self):
        compact = self.iban_compact()
        # Only one pair of check digits from 02 to 98 passes, so any other
        # pair fails.
        check = int(compact[2:4])
        wrong = (check - 2 + self.rng.randint(1, 96)) % 97 + 2
        bad = f"{compact[:2]}{wrong:02d}{compact[4:]}"
        assert iban_remainder(bad) != 1
        return bad

    def bad_ssn(self):
        rng = self.rng
        # 9xx with a group outside the ITIN ranges, so it is no ITIN either.
        area = self.pick(["000", "666", f"9{rng.randint(0, 99):02d}"])
        return f"{area}-{rng.randint(10, 49):02d}-{rng.randint(1, 9999):04d}"

    def numeric_id(self):
        return str(self.rng.randint(10**8, 10**12 - 1))

    def five_group_mac(self):
        return ":".join(f"{self.rng.randrange(256):02x}" for _ in range(5))

    def bad_ipv4(self):
        rng = self.rng
        return self.pick([f"999.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
                          f"256.{rng.randint(0, 255)}.{rng.randint(0, 255)}.1",
                          f"1.3.6.1.4.1.{rng.randint(1000, 60000)}.{rng.randint(1, 9)}.{rng.randint(1, 9)}"])

    def java_class(self):
        return (f"com.example.{self.pick(['orders', 'billing', 'auth', 'users'])}."
                f"{self.pick(['OrderService', 'CardVault', 'LoginFilter', 'UserRepository'])}")

    def cpp_path(self):
        return self.pick(["std::vector", "Foo::bar", "detail::Node::visit", "absl::StrCat",
                          "boost::asio::ip", "Parser::parse_value", "ns::impl::Widget"])

    # National ids, generated from their public definitions.

    def imei(self):
        body = self.pick(["35", "86", "01", "49"]) + self.digits(12)
        return body + luhn_check_digit(body)

    def itin(self):
        group = self.pick(list(range(70, 89)) + [90, 91, 92] + list(range(94, 100)))
        return f"9{self.digits(2)}-{group:02d}-{self.digits(4)}"

    def aba(self):
        while True:
            first8 = self.pick(["01", "02", "03", "04", "11", "12", "21", "26", "31", "32",
                                "61", "67", "72"]) + self.digits(6)
            for check in string.digits:
                if aba_valid(first8 + check):
                    return first8 + check

    def nhs(self):
        # England, Wales and the Isle of Man issue numbers from 400 000 000
        # to 499 999 999 and 600 000 000 to 799 999 999. Numbers from 9 on
        # are never issued to a patient (999 xxx xxxx is kept for test
        # data), so they are not personal data and the detector skips them.
        while True:
            first9 = self.pick(["4", "6", "7"]) + self.digits(8)
            check = nhs_check_digit(first9)
            if check is not None:
                number = first9 + check
                return self.pick([number, f"{number[:3]} {number[3:6]} {number[6:]}"])

    def bsn(self):
        while True:
            first8 = self.pick("123456789") + self.digits(7)
            for check in string.digits:
                if bsn_valid(first8 + check):
                    return first8 + check

    def dni(self):
        number = self.rng.randint(10000000, 99999999)
        return f"{number}{DNI_LETTERS[number % 23]}"

    def nie(self):
        prefix = self.pick("XYZ")
        number = self.digits(7)
        value = int(str("XYZ".index(prefix)) + number)
        return f"{prefix}{number}{DNI_LETTERS[value % 23]}"

    def codice_fiscale(self):
        rng = self.rng
        consonants = "BCDFGHLMNPRSTVZ"
        day = rng.randint(1, 28) + self.pick([0, 40])
        first15 = (self.chars(consonants, 6) + f"{rng.randint(40, 99):02d}"
                   + self.pick("ABCDEHLMPRST") + f"{day:02d}"
                   + self.pick("ABCDEFGHLM") + self.digits(3))
        return first15 + codice_check_char(first15)

    def nir(self):
        rng = self.rng
        first13 = (self.pick("12") + f"{rng.randint(40, 99):02d}" + f"{rng.randint(1, 12):02d}"
                   + f"{rng.choice([d for d in range(1, 96) if d != 20]):02d}"
                   + self.digits(3) + self.digits(3))
        key = 97 - int(first13) % 97
        compact = f"{first13}{key:02d}"
        if self.rng.random() < 0.5:
            return compact
        parts = [compact[0], compact[1:3], compact[3:5], compact[5:7], compact[7:10],
                 compact[10:13], compact[13:]]
        return " ".join(parts)

    def de_tax_id(self):
        # Since 2016 exactly one digit of the first ten appears twice (or
        # three times), and the first digit is never 0.
        while True:
            digits = list(string.digits)
            self.rng.shuffle(digits)
            first10 = digits[:9]
            first10.insert(self.rng.randint(1, 9), first10[self.rng.randint(0, 8)])
            if first10[0] != "0":
                text = "".join(first10)
                return text + de_tax_check_digit(text)

    def cpf(self):
        while True:
            first9 = self.digits(9)
            if len(set(first9)) > 1:
                break
        number = first9 + cpf_check_digits(first9)
        return self.pick([number, f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"])

    def sin(self):
        body = self.pick("1234567") + self.digits(7)
        number = body + luhn_check_digit(body)
        return self.pick([f"{number[:3]}-{number[3:6]}-{number[6:]}",
                          f"{number[:3]} {number[3:6]} {number[6:]}"])

    def aadhaar(self):
        body = self.pick("23456789") + self.digits(10)
        number = body + verhoeff_check_digit(body)
        assert verhoeff_valid(number)
        return self.pick([number, f"{number[:4]} {number[4:8]} {number[8:]}"])

    def cn_resident_id(self):
        rng = self.rng
        first17 = (self.pick(["110105", "310104", "440305", "510107", "330106"])
                   + f"{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                   + self.digits(3))
        return first17 + cn_check_char(first17)

    def personnummer(self):
        rng = self.rng
        body = f"{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{self.digits(3)}"
        check = luhn_check_digit(body)
        return f"{body[:6]}{self.pick(['-', '+'])}{body[6:]}{check}"

    # Vendor secrets.

    def github(self):
        random_part = self.chars(ALNUM, 30)
        checksum = zlib.crc32(random_part.encode())
        encoded = ""
        while checksum:
            checksum, digit = divmod(checksum, 62)
            encoded = (string.digits + string.ascii_uppercase + string.ascii_lowercase)[digit] + encoded
        return self.pick(["ghp_", "gho_", "ghs_", "ghu_"]) + random_part + encoded.rjust(6, "0")

    def gitlab(self):
        return "glpat-" + self.chars(ALNUM + "_-", 20)

    def slack(self):
        return (f"{self.pick(['xoxb', 'xoxp'])}-{self.digits(12)}-{self.digits(13)}-"
                f"{self.chars(ALNUM, 24)}")

    def stripe(self):
        return self.pick(["sk_live_", "sk_test_", "rk_live_"]) + self.chars(ALNUM, self.rng.randint(24, 34))

    def google(self):
        return "AIza" + self.chars(ALNUM + "_-", 35)

    def pem(self):
        body = "\n".join(self.chars(ALNUM + "+/", 64) for _ in range(3))
        label = self.pick(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY"])
        return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"

    def basic(self):
        credential = f"{self.pick(GIVEN)}:{self.password()}"
        return base64.b64encode(credential.encode()).decode()


# --- layouts of the base corpus ---------------------------------------------


class Layouts:
    """One method per log layout, each returning a list of `Line`s."""

    def __init__(self, rng):
        self.rng = rng
        self.v = Values(rng)

    def pick(self, items):
        return self.rng.choice(items)

    def maybe(self, share):
        return self.rng.random() < share

    def user_agent(self):
        # Browsers that freeze their version report `Chrome/120.0.0.0`.
        major = self.rng.randint(100, 130)
        chrome = self.pick([f"{major}.0.0.0",
                            f"{major}.0.{self.rng.randint(1000, 7000)}.{self.rng.randint(10, 200)}"])
        return ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/", D("version", chrome),
                " Safari/537.36"]

    def apache_access(self):
        v = self.v
        line = Line("apache.combined")
        line.add(P("IPV4", v.ipv4()) if self.maybe(0.8) else P("IPV6", v.ipv6()))
        line.add(" - ", P("EMAIL", v.email()) if self.maybe(0.3) else "-")
        line.add(" [", D("timestamp", v.clf_time()), '] "', self.pick(METHODS), " ", self.pick(PATHS))
        query = self.rng.randrange(6)
        if query == 0:
            line.add("?email=", P("EMAIL", v.email()), "&page=", str(self.rng.randint(1, 9)))
        elif query == 1:
            line.add("?token=", P("BEARER_TOKEN", v.opaque_token()))
        elif query == 2:
            line.add("?user=admin&password=", P("PASSWORD", v.password()), "&next=%2Fhome")
        elif query == 3:
            line.add("?state=", D("uuid", v.uuid()), "&code=", P("BEARER_TOKEN", v.chars(BASE64URL, 32)))
        line.add(' HTTP/1.1" ', D("http_status", self.pick(["200", "201", "302", "404", "500"])),
                 " ", D("bytes", str(self.rng.randint(100, 999999))))
        if self.maybe(0.6):
            line.add(' "https://', self.pick(HOSTS), '/" "', *self.user_agent(), '"')
        if self.maybe(0.3):
            line.add(" rt=", D("duration", v.duration()))
        return [line]

    def nginx_error(self):
        v = self.v
        line = Line("nginx.error")
        date = f"2025/0{self.rng.randint(1, 9)}/{self.rng.randint(10, 28)} "
        line.add(D("timestamp", date + v.clock()), " [error] ", str(self.rng.randint(100, 9999)),
                 "#0: *", str(self.rng.randint(1, 99999)), " ")
        line.add(self.pick(["upstream timed out (110: Connection timed out)",
                            "connect() failed (111: Connection refused)",
                            'open() "/var/www/html/favicon.ico" failed (2: No such file or directory)']))
        line.add(", client: ", P("IPV4", v.ipv4()), ", server: ", self.pick(HOSTS),
                 ', request: "GET ', self.pick(PATHS), ' HTTP/1.1"')
        line.add(', upstream: "http://', P("IPV4", v.ipv4()), ":", D("port", str(self.pick([8080, 9000, 3000]))),
                 self.pick(PATHS), '"')
        if self.maybe(0.3):
            line.add(', host: "', P("IPV6", v.ipv6()), '"')
        return [line]

    def syslog(self):
        v = self.v
        line = Line("syslog.bsd")
        line.add(D("timestamp", v.syslog_time()), " ", self.pick(["gw-1", "edge", "bastion"]), " ")
        kind = self.rng.randrange(5)
        pid = str(self.rng.randint(100, 65000))
        if kind == 0:
            line.add("sshd[", pid, "]: Accepted publickey for deploy from ", P("IPV4", v.ipv4()),
                     " port ", D("port", str(self.rng.randint(1024, 65535))), " ssh2: ED25519 SHA256:",
                     D("hex_hash", v.chars(ALNUM, 43)))
        elif kind == 1:
            line.add("sshd[", pid, "]: Failed password for invalid user admin from ",
                     P("IPV6", v.ipv6()) if self.maybe(0.3) else P("IPV4", v.ipv4()),
                     " port ", D("port", str(self.rng.randint(1024, 65535))), " ssh2")
        elif kind == 2:
            line.add("dnsmasq-dhcp[", pid, "]: DHCPACK(eth0) ", P("IPV4", v.ipv4()), " ",
                     P("MAC_ADDRESS", v.mac()), " printer-", str(self.rng.randint(1, 9)))
        elif kind == 3:
            line.add("kernel: [", D("duration", f"{self.rng.randint(1, 99999)}.{self.rng.randint(0, 999999):06d}"),
                     "] eth0: link up, peer ", P("MAC_ADDRESS", v.mac()), ", ", D("mac_like", v.five_group_mac()))
        else:
            line.add("postfix/smtpd[", pid, "]: NOQUEUE: reject: RCPT from unknown[", P("IPV4", v.ipv4()),
                     "]: 554 5.7.1 <", P("EMAIL", v.email()), ">: Relay access denied; from=<",
                     P("EMAIL", v.email()), "> proto=ESMTP")
        return [line]

    def hdfs(self):
        """An HDFS DataNode line: `yyMMdd HHmmss pid`, which reads like a
        grouped 14 to 16 digit number."""
        v = self.v
        rng = self.rng
        line = Line("hdfs.datanode")
        stamp = (f"{rng.randint(22, 26):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d} "
                 f"{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}")
        line.add(D("timestamp", stamp), " ", str(rng.randint(1, 9999)),
                 " INFO dfs.DataNode$DataXceiver: Receiving block ", D("hdfs_block", v.hdfs_block()),
                 " src: /", P("IPV4", v.ipv4()), ":", D("port", str(rng.randint(1024, 65535))),
                 " dest: /", P("IPV4", v.ipv4()), ":", D("port", "50010"))
        return [line]

    def syslog_5424(self):
        v = self.v
        line = Line("syslog.rfc5424")
        line.add("<", str(self.rng.randint(8, 190)), ">1 ", D("timestamp", v.iso_time()), " ",
                 self.pick(HOSTS), " billing ", str(self.rng.randint(100, 9999)), " ID",
                 str(self.rng.randint(1, 99)), ' [origin ip="', P("IPV4", v.ipv4()), '"] ')
        choice = self.rng.randrange(3)
        if choice == 0:
            line.add("refund to IBAN ", P("IBAN", v.iban()), " queued, ref ", D("order_id", v.order_id()))
        elif choice == 1:
            line.add("card ", P("CREDIT_CARD", v.card()), " declined after ", D("duration", v.duration()))
        else:
            line.add("SSN ", P("US_SSN", v.ssn()), " matched; rejected ", D("ssn_invalid", v.bad_ssn()))
        return [line]

    def json_event(self):
        v = self.v
        rng = self.rng
        choice = rng.randrange(6)
        if choice == 0:
            document = {
                "ts": D("timestamp", v.iso_time()), "level": "info", "msg": "login succeeded",
                "user": {"id": P("USER", rng.randint(1000, 999999)) if self.maybe(0.4) else P("USER", v.user_id()),
                         "email": P("EMAIL", v.email())},
                "client": {"ip": P("IPV4", v.ipv4())},
                "trace_id": D("trace_id", v.hex_id(32)), "span_id": D("span_id", v.hex_id(16)),
                "duration_ms": rng.randint(1, 900),
            }
        elif choice == 1:
            document = {
                "time": D("timestamp_epoch_ms", v.epoch_millis()) if self.maybe(0.5) else rng.randint(1600000000000, 1800000000000),
                "event": "payment.created",
                "payment": {"card_number": P("CREDIT_CARD", v.card()), "amount": rng.randint(100, 99999),
                            "currency": "EUR", "iban": P("IBAN", v.iban())},
                "order_id": D("order_id", v.order_id()), "request_id": D("uuid", v.uuid()),
            }
        elif choice == 2:
            document = {
                "level": "warn",
                "msg": S("profile update for ", P("EMAIL", v.email()), " from ", P("IPV4", v.ipv4()),
                         " took ", D("duration", v.duration())),
                "changes": [{"field": "phone", "new": P("PHONE", v.phone_e164())},
                            {"field": "first_name", "first_name": P("PERSON_NAME", v.pick(GIVEN).capitalize())},
                            {"field": "dob", "dob": P("DATE_OF_BIRTH", v.birth_date())}],
                "x_forwarded_for": [P("IPV4", v.ipv4()), P("IPV4", v.ipv4())],
                "note": S(self.pick(UNICODE_NOTES), " ", P("MAC_ADDRESS", v.mac())),
            }
        elif choice == 3:
            password = v.password(quoted=True)
            if self.maybe(0.4):
                password = password[:4] + '"' + password[4:]
            document = {
                "msg": "loaded configuration", "version": D("version", v.version()),
                "db": {"host": self.pick(HOSTS), "port": rng.randint(3000, 6000), "password": P("PASSWORD", password)},
                "aws": {"access_key_id": S(P("AWS_ACCESS_KEY", v.aws_key())), "region": "eu-west-1"},
                "build": D("git_sha", v.hex_id(40)),
            }
        elif choice == 4:
            document = {
                "http": {"method": self.pick(METHODS), "path": self.pick(PATHS), "status": 401,
                         # The credential after `Bearer` is a bearer token whatever
                         # the key. A value under a sensitive key gets the kind of
                         # its contents, as the same value in text does.
                         "headers": {"authorization": S("Bearer ", P("BEARER_TOKEN", v.opaque_token())),
                                     "cookie": P("SECRET", f"session_id={v.session()}; theme=dark"),
                                     "user-agent": "curl/8.5.0"}},
                "session_id": P("SECRET", v.session()),
                "error": S('token "', P("JWT", v.jwt()), '" expired at ', D("timestamp", v.iso_time())),
            }
        else:
            document = {
                "level": "error",
                "msg": S("export failed for ", P("IPV6", v.ipv6()), " (retrying)\n\tSSN ", P("US_SSN", v.ssn()),
                         ' in row "', D("uuid", v.uuid()), '"'),
                "customer_id": P("USER", rng.randint(10000, 999999)),
                "full_name": P("PERSON_NAME", v.full_name()),
                "street_address": P("ADDRESS", v.street()),
                "ssn": P("US_SSN", v.ssn().replace("-", "") if self.maybe(0.3) else v.ssn()),
                "tags": ["export", D("span_id", v.hex_id(16))],
            }
        return [json_line("json." + ["login", "payment", "profile", "config", "http", "export"][choice], document, rng)]

    def logfmt(self):
        v = self.v
        line = Line("logfmt")
        line.add("ts=", D("timestamp", v.iso_time()), " level=", self.pick(["info", "warn", "error"]))
        choice = self.rng.randrange(4)
        if choice == 0:
            line.add(' msg="user signed in" user_id=', P("USER", v.user_id()), " ip=", P("IPV4", v.ipv4()),
                     " email=", P("EMAIL", v.email()), " session_id=", P("SECRET", v.session()))
        elif choice == 1:
            line.add(' msg="charge" card=', P("CREDIT_CARD", v.card().replace(" ", "-")),
                     " amount=12.50 order=", D("order_id", v.order_id()), " iban=", P("IBAN", v.iban_compact()),
                     " took=", D("duration", v.duration()))
        elif choice == 2:
            line.add(' msg="db connect" db_password=', P("PASSWORD", v.password()),
                     " aws_key=", P("AWS_ACCESS_KEY", v.aws_key()), " token=", P("BEARER_TOKEN", v.opaque_token()),
                     " retry=", str(self.rng.randint(1, 5)))
        else:
            line.add(' msg="device seen" mac=', P("MAC_ADDRESS", v.mac()), " phone=",
                     P("PHONE", v.phone_national()), " username=", P("USER", v.user_id()),
                     ' full_name="', P("PERSON_NAME", v.full_name()), '" dob=', P("DATE_OF_BIRTH", v.birth_date()),
                     " block=", D("hdfs_block", v.hdfs_block()))
        if self.maybe(0.4):
            line.add(" trace_id=", D("trace_id", v.hex_id(32)))
        return [line]

    def cri(self):
        v = self.v
        inner = self.pick([self.logfmt, self.kubelet_text, self.sentence, self.cri_json_text])()[0]
        line = Line("cri." + inner.template)
        line.add(D("timestamp", v.cri_time()), " ", self.pick(["stdout", "stderr"]), " ",
                 self.pick(["F", "F", "P"]), " ")
        offset = line.size
        line.add("".join(inner.chunks))
        for span in inner.pii:
            line.pii.append({**span, "start": span["start"] + offset, "end": span["end"] + offset})
        for span in inner.decoys:
            line.decoys.append({**span, "start": span["start"] + offset, "end": span["end"] + offset})
        return [line]

    def cri_json_text(self):
        """JSON after a CRI prefix, which the redactor treats as plain text."""
        v = self.v
        document = {
            "level": "info", "email": P("EMAIL", v.email()), "phone": P("PHONE", v.phone_national()),
            "password": P("PASSWORD", v.password()), "token": P("BEARER_TOKEN", v.opaque_token()),
            "latency": D("duration", v.duration()),
        }
        return [json_line("json_text", document, self.rng)]

    def kubelet_text(self):
        v = self.v
        line = Line("klog")
        line.add(self.pick(["I", "W", "E"]), f"0{self.rng.randint(1, 9)}{self.rng.randint(10, 28)} ",
                 D("timestamp", v.clock() + f".{self.rng.randint(0, 999999):06d}"), " ",
                 str(self.rng.randint(1, 99999)), " ", self.pick(["prober.go", "kubelet.go", "pod_workers.go"]),
                 f":{self.rng.randint(10, 999)}] ")
        line.add('Probe failed probeType="Liveness" pod="shop/api-', v.hex_id(10), '" output="Get \\"http://',
                 P("IPV4", v.ipv4()), ":", D("port", "8080"), '/healthz\\": context deadline exceeded"')
        return [line]

    def sentence(self):
        """A value of a random kind at the start, middle or end of a line,
        bare, quoted or next to punctuation."""
        v = self.v
        kind, value = self.pick([
            ("EMAIL", v.email), ("IPV4", v.ipv4), ("IPV6", v.ipv6), ("PHONE", v.phone_e164),
            ("US_SSN", v.ssn), ("CREDIT_CARD", v.card), ("IBAN", v.iban), ("JWT", v.jwt),
            ("AWS_ACCESS_KEY", v.aws_key), ("MAC_ADDRESS", v.mac),
        ])
        value = value()
        before, after = self.pick([("", ""), ('"', '"'), ("'", "'"), ("(", ")"), ("<", ">"),
                                   ("[", "]"), ("", ","), ("", ";"), ("", "."), ("{", "}")])
        if kind == "IBAN" and " " in value and after == ".":
            after = ""
        position = self.rng.randrange(3)
        line = Line(f"sentence.{['start', 'middle', 'end'][position]}")
        label = P(kind, value)
        if position == 0:
            line.add(before, label, after, " rejected by policy ", D("uuid", v.uuid()))
        elif position == 1:
            line.add(self.pick(UNICODE_NOTES) if self.maybe(0.3) else "lookup", " for ", before, label, after,
                     " took ", D("duration", v.duration()))
        else:
            line.add("request ", D("uuid", v.uuid()), " matched ", before, label, after)
        return [line]

    def stack_trace(self):
        v = self.v
        lines = []
        head = Line("java.exception")
        head.add(D("java_class", v.java_class() + "Exception"), ": ")
        choice = self.rng.randrange(3)
        if choice == 0:
            head.add("User with email ", P("EMAIL", v.email()), " already exists")
        elif choice == 1:
            head.add("Connection refused to ", P("IPV4", v.ipv4()), ":", D("port", "5432"),
                     " after ", D("duration", v.duration()))
        else:
            head.add("Card ", P("CREDIT_CARD", v.card()), " rejected: ", D("order_id", v.order_id()))
        lines.append(head)
        for _ in range(self.rng.randint(2, 4)):
            frame = Line("java.frame")
            name = v.java_class()
            frame.add("\tat ", D("java_class", f"{name}.process"), "(", name.rsplit(".", 1)[1], ".java:",
                      str(self.rng.randint(10, 999)), ")")
            lines.append(frame)
        cause = Line("java.caused_by")
        cause.add("Caused by: java.sql.SQLException: duplicate key for '", P("EMAIL", v.email()),
                  "' in ", D("cpp_path", v.cpp_path()) if self.maybe(0.3) else "users_email_key")
        lines.append(cause)
        return lines

    def sql(self):
        v = self.v
        line = Line("sql")
        choice = self.rng.randrange(3)
        if choice == 0:
            line.add(D("timestamp", v.iso_time()), " LOG:  duration: ", D("duration", f"{self.rng.randint(0, 999)}.{self.rng.randint(0, 999):03d} ms"),
                     "  statement: INSERT INTO customers (email, ssn, card, created_at) VALUES ('",
                     P("EMAIL", v.email()), "', '", P("US_SSN", v.ssn()), "', '", P("CREDIT_CARD", v.card()),
                     "', ", D("timestamp_epoch", v.epoch_seconds()), ");")
        elif choice == 1:
            line.add("UPDATE accounts SET iban = '", P("IBAN", v.iban()), "', phone = '", P("PHONE", v.phone_e164()),
                     "' WHERE id = ", D("numeric_id", v.numeric_id()), ";")
        else:
            line.add("SELECT id FROM sessions WHERE ip = '", P("IPV4", v.ipv4()), "' AND mac = '",
                     P("MAC_ADDRESS", v.mac()), "' AND ts > ", D("timestamp_epoch_ms", v.epoch_millis()),
                     " LIMIT 10 -- ", D("git_sha", v.hex_id(7)))
        return [line]

    def http_dump(self):
        v = self.v
        choice = self.rng.randrange(6)
        line = Line("http.header")
        if choice == 0:
            line.add("> Authorization: Bearer ", P("BEARER_TOKEN", v.opaque_token()))
        elif choice == 1:
            line.add("> Authorization: Bearer ", P("JWT", v.jwt()))
        elif choice == 2:
            line.add("> Cookie: session_id=", P("SECRET", v.session()), "; theme=dark; _ga=GA1.2.",
                     D("numeric_id", v.numeric_id()))
        elif choice == 3:
            line.add("> X-Forwarded-For: ", P("IPV4", v.ipv4()), ", ", P("IPV4", v.ipv4()))
        elif choice == 4:
            line.add("* Connected to ", self.pick(HOSTS), " (", P("IPV6", v.ipv6()) if self.maybe(0.5) else P("IPV4", v.ipv4()),
                     ") port ", D("port", "443"))
        else:
            line.add("request: ", self.pick(METHODS), " https://", self.pick(HOSTS), "/v1/users?email=",
                     P("EMAIL", v.email()), "&password=", P("PASSWORD", v.password()),
                     " headers={Authorization: Bearer ", P("BEARER_TOKEN", v.opaque_token()), "}")
        return [line]

    def key_value(self):
        v = self.v
        line = Line("key_value")
        line.add(D("timestamp", v.syslog_time()), " audit: ")
        line.add(self.pick(["user_id=", "customer_id=", "account_id="]), P("USER", v.user_id()))
        line.add(" ssn=", P("US_SSN", v.ssn()), " cc=", P("CREDIT_CARD", v.card().replace(" ", "")))
        line.add(" mobile=", P("PHONE", v.phone_national()), " pid=", str(self.rng.randint(1, 65000)),
                 " ver=", D("version", v.version()), " oid=", D("oid", v.bad_ipv4()))
        return [line]

    def bracketed_ipv6(self):
        v = self.v
        line = Line("url.ipv6")
        line.add("proxy: upstream http://[", P("IPV6", v.ipv6()), "]:", D("port", str(self.pick([80, 8443, 9090]))),
                 self.pick(PATHS), " returned ", D("http_status", "502"), " at ", D("clock", v.clock()))
        return [line]

    def k8s_event(self):
        v = self.v
        line = Line("k8s.event")
        line.add(D("duration", f"{self.rng.randint(1, 59)}m"), "  Warning  Unhealthy  pod/api-", v.hex_id(9),
                 "  Readiness probe failed: Get \"http://", P("IPV4", v.ipv4()), ":", D("port", "8080"),
                 '/ready": dial tcp ', P("IPV4", v.ipv4()), ":", D("port", "8080"),
                 ": connect: connection refused")
        if self.maybe(0.4):
            line.add(' image "registry.example.com/shop:', D("version", v.version()), '"')
        return [line]

    def otlp_dump(self):
        v = self.v
        if self.maybe(0.5):
            line = Line("otlp.attributes")
            # `client.address` contains the client's IP address, or its host name
            # when one is known. An address is labeled IPV4 like any other,
            # and only a host name keeps the key's kind.
            if self.maybe(0.5):
                client = P("IPV4", v.ipv4())
            else:
                client = P("ADDRESS", f"{self.pick(['laptop', 'desk', 'kiosk', 'pos'])}-{self.rng.randint(1, 99)}."
                                      f"{self.pick(['corp', 'office', 'branch'])}.example")
            line.add("span ", D("span_id", v.hex_id(16)), " trace ", D("trace_id", v.hex_id(32)),
                     " attributes={client.address=", client, ", enduser.id=", P("USER", v.user_id()),
                     ", user.email=", P("EMAIL", v.email()), ", http.response.status_code=",
                     D("http_status", "200"), ", net.peer.port=", D("port", str(self.rng.randint(1024, 65535))), "}")
            return [line]
        line = Line("otlp.debug_exporter")
        key, value = self.pick([("net.sock.peer.addr", P("IPV4", v.ipv4())),
                                ("server.address", P("IPV6", v.ipv6())),
                                ("messaging.recipient", P("EMAIL", v.email())),
                                ("device.mac", P("MAC_ADDRESS", v.mac()))])
        line.add("     -> ", key, ": Str(", value, ")")
        return [line]

    def decoys_only(self):
        """A line with only look-alikes, none of them personal data."""
        v = self.v
        line = Line("decoys")
        line.add(D("timestamp", v.iso_time()), " job=", D("uuid", v.uuid()), " sha=", D("git_sha", v.hex_id(40)),
                 " block=", D("hdfs_block", v.hdfs_block()), " epoch=", D("timestamp_epoch", v.epoch_seconds()),
                 " ms=", D("timestamp_epoch_ms", v.epoch_millis()), " id=", D("numeric_id", v.numeric_id()),
                 " order=", D("order_id", v.order_id()), " acct=", D("iban_bad_checksum", v.bad_iban()),
                 " ref=", D("ssn_invalid", v.bad_ssn()), " hash=", D("hex_hash", v.hex_id(64)),
                 " mac5=", D("mac_like", v.five_group_mac()), " addr=", D("ip_like", v.bad_ipv4()),
                 " fn=", D("cpp_path", v.cpp_path()), " at ", D("clock", v.clock()),
                 " v", D("version", v.version().lstrip("v")), " host:", D("port", str(self.rng.randint(1, 65535))),
                 " took ", D("duration", v.duration()), " size=", D("bytes", str(self.rng.randint(0, 10**9))))
        return [line]

    ALL = [
        ("apache_access", 12), ("nginx_error", 6), ("syslog", 8), ("hdfs", 4), ("syslog_5424", 5),
        ("json_event", 16), ("logfmt", 10), ("cri", 10), ("sentence", 16), ("stack_trace", 4),
        ("sql", 6), ("http_dump", 8), ("key_value", 5), ("bracketed_ipv6", 3), ("k8s_event", 4),
        ("otlp_dump", 6), ("decoys_only", 6),
    ]


# --- layouts of personal names -----------------------------------------------


class NameLayouts(Layouts):
    """Lines with personal names, appended to `labeled.jsonl` from their own
    random generator so that the other lines stay as they were."""

    def person_names(self):
        """Personal names under person keys, in SQL, after `name=` and in
        free text, next to names of services, classes and products."""
        v = self.v
        rng = self.rng
        name = P("PERSON_NAME", v.person_name())
        # SQL doubles a quote inside a string literal.
        sql_name = P("PERSON_NAME", name.value.replace("'", "''"))
        choice = rng.randrange(7)

        if choice == 0:
            document = {
                "ts": D("timestamp", v.iso_time()), "msg": "refund issued",
                "service": {"name": D("service_name", self.pick(SERVICE_NAMES))},
                "user": {"id": P("USER", rng.randint(1000, 99999)), "email": P("EMAIL", v.email()), "name": name},
                "order_id": D("order_id", v.order_id()),
            }
            return [json_line("names.json.user", document, rng)]

        if choice == 1:
            document = {
                "logger": D("class_name", self.pick(CLASS_NAMES)), "message": "profile updated",
                "actor": {"name": name, "mac": P("MAC_ADDRESS", v.mac())},
                "elapsed": D("duration", v.duration()),
            }
            return [json_line("names.json.actor", document, rng)]

        if choice == 2:
            line = Line("names.sql.insert")
            line.add(D("timestamp", v.iso_time()), " LOG:  statement: INSERT INTO customers (name, email, phone) VALUES ('",
                     sql_name, "', '", P("EMAIL", v.email()), "', '", P("PHONE", v.phone_e164()), "')")
            return [line]

        if choice == 3:
            line = Line("names.sql.update")
            line.add(D("timestamp", v.iso_time()), " DEBUG org.hibernate.SQL - update payment_methods set card_number='",
                     P("CREDIT_CARD", v.card()), "', holder='", sql_name, "' where order_ref='", D("order_id", v.order_id()), "'")
            return [line]

        if choice == 4:
            line = Line("names.kv")
            line.add(D("timestamp", v.cri_time()), " stdout F export row: name=", name, " ssn=", P("US_SSN", v.ssn()),
                     " worker name=", D("worker_name", f"worker-{rng.randint(1, 64)}"))
            return [line]

        if choice == 5:
            line = Line("names.sentence")
            line.add(D("timestamp", v.iso_time()), " WARN [main] c.a.p.", D("class_name", self.pick(CLASS_NAMES)),
                     " - SEPA mandate rejected for ", P("PERSON_NAME", v.person_name(CENSUS_GIVEN)),
                     " account ", P("IBAN", v.iban_compact()), " ref ", D("uuid", v.uuid()))
            return [line]

        line = Line("names.look_alikes")
        line.add(D("timestamp", v.iso_time()), " INFO ", D("product_name", self.pick(PRODUCT_NAMES)),
                 " client started: name=", D("class_name", self.pick(CLASS_NAMES)), " service.name=",
                 D("service_name", self.pick(SERVICE_NAMES)), " pool name=", D("worker_name", f"worker-{rng.randint(1, 64)}"))
        return [line]

    ALL = [("person_names", 1)]


# --- layouts of the extended corpus -------------------------------------------


class ExtendedLayouts(Layouts):
    """Lines with national ids and vendor secrets, plus look-alikes that fail
    their checks."""

    IDS = ["imei", "itin", "aba", "nhs", "bsn", "dni", "nie", "codice_fiscale", "nir",
           "de_tax_id", "cpf", "sin", "aadhaar", "cn_resident_id", "personnummer"]

    # How a sentence names an id whose bare form is only digits. A bare run
    # of 9 to 15 digits with no word naming it cannot be distinguished from
    # an order number, a counter or a phone number, because about one
    # random 9-digit number in ten passes the ABA checksum, and one in
    # eleven passes the BSN 11-proof. So the detectors take such runs only
    # after a word like these, and the sentences say what the number is, as
    # log lines that report a verified id do. Ids with letters, dashes or a
    # fixed grouping are found by their shape, so their sentences keep the
    # bare `document` to test that.
    ID_LABELS = {
        "imei": ["IMEI", "device IMEI"],
        "aba": ["routing number", "ABA", "RTN"],
        "nhs": ["NHS number", "NHS no."],
        "bsn": ["BSN", "burgerservicenummer"],
        "nir": ["NIR", "INSEE", "numéro de sécurité sociale"],
        "de_tax_id": ["Steuer-ID", "steuerliche IdNr", "tax id"],
        "cpf": ["CPF"],
        "aadhaar": ["Aadhaar", "Aadhaar no."],
    }
    SECRETS = ["github", "gitlab", "slack", "stripe", "google"]

    def national_id(self):
        name = self.pick(self.IDS)
        value = getattr(self.v, name)()
        kind = EXTENDED_KINDS[name]
        label = P(kind, value)
        layout = self.rng.randrange(4)
        if layout == 0:
            line = Line(f"ext.logfmt.{name}")
            line.add("ts=", D("timestamp", self.v.iso_time()), ' msg="kyc check" id_type=', name,
                     " id=", label, " took=", D("duration", self.v.duration()))
        elif layout == 1:
            line = json_line(f"ext.json.{name}", {"event": "kyc.verified", "document": {"type": name, "number": S(label)},
                                                  "request_id": D("uuid", self.v.uuid())}, self.rng)
        elif layout == 2:
            line = Line(f"ext.sentence.{name}")
            before, after = self.pick([("", ""), ("(", ")"), ('"', '"'), ("<", ">,")])
            noun = self.pick(self.ID_LABELS.get(name, ["document"]))
            line.add(noun, " ", before, label, after, " verified for request ", D("uuid", self.v.uuid()))
        else:
            # The field is named after the id, as in the logfmt and JSON
            # layouts, and not a bare `number=`, which names no id.
            line = Line(f"ext.cri.{name}")
            line.add(D("timestamp", self.v.cri_time()), f" stdout F kyc: {name}='", label, "' status=ok")
        return [line]

    def bad_national_id(self):
        """Ids with one check digit changed, which must survive."""
        name = self.pick(["imei", "bsn", "cpf", "aadhaar", "cn_resident_id", "nhs", "aba"])
        value = getattr(self.v, name)()
        last = value[-1]
        if last.isdigit():
            wrong = str((int(last) + self.rng.randint(1, 9)) % 10)
        else:
            wrong = "7"
        bad = value[:-1] + wrong
        line = Line(f"ext.decoy.{name}")
        # Half of them are named, so the check digit and not a missing
        # context word is what must reject them.
        noun = self.pick(self.ID_LABELS.get(name, ["reference"]) + ["reference"])
        line.add(noun, " ", D(f"{name}_bad_check", bad), " not found")
        return [line]

    def secret(self):
        name = self.pick(self.SECRETS)
        value = getattr(self.v, name)()
        label = P(EXTENDED_KINDS[name], value)
        layout = self.rng.randrange(3)
        line = Line(f"ext.secret.{name}")
        if layout == 0:
            line.add("+ export CI_PUSH_CREDENTIAL=", label)
        elif layout == 1:
            line.add('curl -s -H "X-Service-Credential: ', label, '" https://', self.pick(HOSTS), "/v1/hooks")
        else:
            return [json_line(f"ext.json.{name}", {"msg": S("rotated credential ", label, " after ", D("duration", self.v.duration()))}, self.rng)]
        return [line]

    def pem(self):
        value = self.v.pem()
        return [json_line("ext.json.pem", {"level": "error", "msg": "bad key", "key": S(P("PRIVATE_KEY", value))}, self.rng)]

    def userinfo(self):
        # A connection URL carries a service account and its password. Only
        # the password is labeled, as PASSWORD like a `password=` field, so
        # one password gets one token wherever it is written. The account
        # names a service, not a person, and stays readable.
        account = self.pick(["app", "orders_rw", "replicator", "svc-billing", "airflow", "readonly"])
        password = self.v.chars(ALNUM + "!$*", 12)
        line = Line("ext.url.userinfo")
        line.add("connecting to postgres://", account, ":", P(EXTENDED_KINDS["userinfo"], password), "@",
                 self.pick(HOSTS), ":", D("port", "5432"), "/app?sslmode=require")
        return [line]

    def basic_auth(self):
        line = Line("ext.http.basic")
        line.add("> Authorization: Basic ", P("BASIC_AUTH", self.v.basic()))
        return [line]

    ALL = [("national_id", 60), ("bad_national_id", 12), ("secret", 20), ("pem", 3),
           ("userinfo", 3), ("basic_auth", 3)]


def generate(layouts, count):
    rng = layouts.rng
    names = [name for name, _ in layouts.ALL]
    weights = [weight for _, weight in layouts.ALL]
    records = []
    while len(records) < count:
        for line in getattr(layouts, rng.choices(names, weights)[0])():
            records.append(line.record())
    return records[:count] if len(records) > count else records


def write(path, records):
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default %(default)s)")
    parser.add_argument("--lines", type=int, default=BASE_LINES, help="lines in labeled.jsonl")
    parser.add_argument("--name-lines", type=int, default=NAME_LINES,
                        help="lines with personal names appended to labeled.jsonl")
    parser.add_argument("--extended-lines", type=int, default=EXTENDED_LINES,
                        help="lines in labeled_extended.jsonl")
    parser.add_argument("--no-extended", action="store_true",
                        help="do not write labeled_extended.jsonl")
    args = parser.parse_args()

    self_check()
    folder = Path(__file__).resolve().parent
    records = generate(Layouts(random.Random(args.seed)), args.lines)
    records += generate(NameLayouts(random.Random(args.seed + 2)), args.name_lines)
    write(folder / "labeled.jsonl", records)
    if not args.no_extended:
        records = generate(ExtendedLayouts(random.Random(args.seed + 1)), args.extended_lines)
        write(folder / "labeled_extended.jsonl", records)


if __name__ == "__main__":
    main()
