#!/usr/bin/python3
"""Fake Telegram Bot API for tether's tests (Python 3.11 standard library only).

It serves /bot<token>/<method> like https://api.telegram.org for the methods
tether uses (getMe, getUpdates long polling, sendMessage, editMessageText),
with the Bot API's envelope, status codes and descriptions.  Behaviour follows
the Bot API documentation and the open-source server (tdlib/telegram-bot-api):
parameters from the query string, a form, multipart or a JSON body; the older
of two concurrent long polls is terminated with 409; timeout is clamped to
0..50; an offset far beyond the queue is served from the queue's head; the
text limit counts characters after entity parsing and trimming.

It is deliberately stricter than the real API where the real API silently
tolerates what its documentation forbids (a bare "&" or ">" in HTML, an
unknown parameter, a JSON null, a malformed allowed_updates, a non-integer
id): such requests get a 400 naming the problem and are marked "rejected"
(with "real_api_accepts": true) in the request log, so that agent bugs fail
tests instead of passing here and misbehaving against Telegram.  Switch the
extra strictness off with POST /__fake/options.

    /usr/bin/python3 fake_telegram.py --port 0 --port-file PATH --token BOT_TOKEN \
        [--bot-username tether_test_bot] [--bot-name "Tether Test"]

API base: http://127.0.0.1:<port>.  Test control: /__fake/... (no token), see
ADMIN_ROUTES.  stderr gets one line per request and never the token.
"""

import copy
import email.parser
import email.policy
import json
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import parse_qsl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402  (it sits next to this script, which is run directly)
from fakebase import AdminError, admin_fields, is_int, now_iso  # noqa: E402

API_PATH = re.compile(r"/bot(?P<token>[^/]*)/(?P<method>[^/]*)")

MAX_TEXT_CHARS = 4096           # "1-4096 characters after entities parsing"
MAX_RAW_TEXT_BYTES = 1 << 15    # telegram-bot-api refuses longer raw text before parsing
LONG_POLL_MAX_TIMEOUT = 50      # telegram-bot-api clamps timeout to 0..50
OFFSET_FUTURE_SLACK = 10        # TQueue: an offset > tail + 10 is "in the future"
FIRST_UPDATE_ID = 700000001     # far from message ids, so mixing the two up shows
MAX_LIMIT = 100

MSG_CONFLICT = ("Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running")
MSG_NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and "
                    "reply markup are exactly the same as a current content and reply markup "
                    "of the message")

# get_update_type_name() in telegram-bot-api; the default excludes the last three.
UPDATE_TYPES = (
    "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages", "inline_query",
    "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
    "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_join_request",
    "chat_boost", "removed_chat_boost", "chat_member", "message_reaction", "message_reaction_count",
)
DEFAULT_ALLOWED = frozenset(UPDATE_TYPES) - {"chat_member", "message_reaction", "message_reaction_count"}

DEFAULT_OPTIONS = {
    "conflict": "terminate_old",   # real: the waiting poll gets the 409; "reject_new": the newcomer
    "strict_html": True,           # bare & and > are errors (the docs say so; tdlib keeps them)
    "strict_params": True,         # a parameter the method does not take is an error
    "known_chats_only": False,     # true: sending to a chat never seen in an update fails
}

# Every parameter the real methods take (Bot API 9.x); others are rejected when strict.
SEND_MESSAGE_PARAMS = frozenset({
    "business_connection_id", "chat_id", "message_thread_id", "direct_messages_topic_id", "text",
    "parse_mode", "entities", "link_preview_options", "disable_notification", "protect_content",
    "allow_paid_broadcast", "message_effect_id", "suggested_post_parameters", "reply_parameters",
    "reply_markup", "disable_web_page_preview", "reply_to_message_id", "allow_sending_without_reply",
})
EDIT_MESSAGE_TEXT_PARAMS = frozenset({
    "business_connection_id", "chat_id", "message_id", "inline_message_id", "text", "parse_mode",
    "entities", "link_preview_options", "disable_web_page_preview", "reply_markup",
})
GET_UPDATES_PARAMS = frozenset({"offset", "limit", "timeout", "allowed_updates"})


def utf16_len(text):
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def redact(value, token):
    """Replace the bot token wherever it occurs (the request log must never hold it)."""
    if isinstance(value, str):
        return value.replace(token, "<token>") if token else value
    if isinstance(value, list):
        return [redact(v, token) for v in value]
    if isinstance(value, dict):
        return {k: redact(v, token) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------
# Errors

class TgError(Exception):
    """A Bot API failure. `rejected` names the agent's mistake when a check failed;
    `real_accepts` marks checks only this fake makes."""

    def __init__(self, status, description, rejected=None, real_accepts=False,
                 parameters=None, headers=None):
        super().__init__(description)
        self.status, self.description = status, description
        self.rejected, self.real_accepts = rejected, real_accepts
        self.parameters, self.headers = parameters, headers or {}

    def envelope(self):
        env = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            env["parameters"] = self.parameters
        return env


def bad_request(what, rejected=None):
    return TgError(400, "Bad Request: " + what, rejected=rejected)


def strict_only(what, why):
    """A 400 the real API would not give (it would guess or ignore instead)."""
    return TgError(400, "Bad Request: " + what, rejected=why, real_accepts=True)


class DownInterrupt(Exception):
    """The fake went down while this request was waiting."""


class CloseWithoutAnswer(Exception):
    pass


# ---------------------------------------------------------------------------
# HTML entity parsing: a port of tdlib's parse_html (td/telegram/MessageEntity.cpp),
# same error texts, plus the strict checks the Bot API documentation asks for.

class EntityError(Exception):
    def __init__(self, message, strict_only=False):
        super().__init__(message)
        self.strict_only = strict_only


HTML_TAGS = {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
             "span", "pre", "code", "blockquote"}
HTML_SPACES = " \t\r\n\v\0"  # td::is_space; "\0" also stands for the end of the text
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
ENTITY_TYPES = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
                "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
                "del": "strikethrough", "tg-spoiler": "spoiler", "span": "spoiler"}


def decode_html_entity(s, i, strict):
    """tdlib's decode_html_entity at s[i] == '&': (character, next index) or None.
    tdlib makes the ';' optional; the strict mode requires it."""
    n = len(s)
    j = i + 1
    if j < n and s[j] == "#":
        j += 1
        hexa = j < n and s[j] == "x"
        if hexa:
            j += 1
        start = j
        digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
        while j < n and s[j] in digits:
            j += 1
        if j == start:
            return None
        code = int(s[start:j], 16 if hexa else 10)
        if code == 0 or code >= 0x10FFFF or j - i >= 10:
            return None
        char = chr(code)
    else:
        while j < n and s[j].isascii() and s[j].isalpha():
            j += 1
        char = NAMED_ENTITIES.get(s[i + 1:j])
        if char is None:
            return None
    if j < n and s[j] == ";":
        return char, j + 1
    return None if strict else (char, j)


def parse_html(s, strict=True):
    """-> (plain text, entities). Raises EntityError with tdlib's message."""
    n = len(s)

    def at(k):
        return s[k] if k < n else "\0"

    def byte_offset(k):
        return len(s[:k].encode("utf-8", "surrogatepass"))

    out, entities, stack = [], [], []
    u16 = 0
    i = 0
    while i < n:
        c = s[i]
        if c == "&":
            decoded = decode_html_entity(s, i, strict)
            if decoded:
                char, i = decoded
                out.append(char)
                u16 += utf16_len(char)
                continue
            if strict:
                raise EntityError(f'Unescaped "&" at byte offset {byte_offset(i)}; write it as "&amp;"', True)
        if c == ">" and strict:
            raise EntityError(f'Unescaped ">" at byte offset {byte_offset(i)}; write it as "&gt;"', True)
        if c != "<":
            out.append(c)
            u16 += utf16_len(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != "/":
            i = parse_start_tag(s, begin, i, strict, stack, u16, len(out), byte_offset)
            continue
        # an end tag
        if not stack:
            raise EntityError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while at(i) not in HTML_SPACES and at(i) != ">":
            i += 1
        end_name = s[begin + 2:i].lower()
        while i < n and at(i) in HTML_SPACES:
            i += 1
        if at(i) != ">":
            raise EntityError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        tag, argument, offset, out_pos, expandable = stack[-1]
        if end_name and end_name != tag:
            raise EntityError(f'Unmatched end tag at byte offset {byte_offset(begin)}, '
                              f'expected "</{tag}>", found "</{end_name}>"')
        stack.pop()
        if u16 > offset:
            close_entity(entities, tag, argument, offset, u16 - offset, "".join(out[out_pos:]), expandable)
        i += 1
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    plain = "".join(out)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in plain):
        raise EntityError("Text contains invalid Unicode characters after decoding HTML entities, "
                          "check for unmatched surrogate code units")
    for e in entities:
        e.pop("_code_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, entities


def parse_start_tag(s, begin, i, strict, stack, u16, out_pos, byte_offset):
    """Parse "<tag attr=value ...>" from s[i] (just after '<'); returns the index after '>'."""
    n = len(s)

    def at(k):
        return s[k] if k < n else "\0"

    while at(i) not in HTML_SPACES and at(i) != ">":
        i += 1
    if i >= n:
        raise EntityError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
    tag = s[begin + 1:i].lower()
    if tag not in HTML_TAGS:
        # tg-emoji is valid for the real API but not among the tags tether may use
        raise EntityError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}',
                          strict_only=(tag == "tg-emoji"))
    argument, expandable = "", False
    while at(i) != ">":
        while i < n and at(i) in HTML_SPACES:
            i += 1
        if at(i) == ">":
            break
        name_start = i
        while at(i) not in HTML_SPACES and at(i) not in "=>":
            i += 1
        name = s[name_start:i]
        if not name:
            raise EntityError(f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(begin)}')
        while i < n and at(i) in HTML_SPACES:
            i += 1
        if at(i) != "=":
            if tag == "blockquote" and name.lower() == "expandable":
                expandable = True  # <blockquote expandable> (Bot API 7.4)
                continue
            raise EntityError(f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                              f"at byte offset {byte_offset(begin)}")
        i += 1
        while i < n and at(i) in HTML_SPACES:
            i += 1
        if i >= n:
            raise EntityError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
        if at(i) not in "'\"":
            token_start = i  # a name token: letters, digits, periods, hyphens
            while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                i += 1
            value = s[token_start:i].lower()
            if at(i) not in HTML_SPACES and at(i) != ">":
                raise EntityError(f"Unexpected end of name token at byte offset {byte_offset(token_start)}")
        else:
            quote = s[i]
            i += 1
            chars = []
            while i < n and s[i] != quote:
                if s[i] == "&":
                    decoded = decode_html_entity(s, i, strict)
                    if decoded:
                        chars.append(decoded[0])
                        i = decoded[1]
                        continue
                    if strict:
                        raise EntityError(f'Unescaped "&" at byte offset {byte_offset(i)}; write it as "&amp;"',
                                          True)
                chars.append(s[i])
                i += 1
            if i < n:
                i += 1
            value = "".join(chars)
        if i >= n:
            raise EntityError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-"):]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[len("tg-"):]
    if tag == "span" and argument != "spoiler":
        raise EntityError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}')
    stack.append((tag, argument, u16, out_pos, expandable))
    return i + 1


def close_entity(entities, tag, argument, offset, length, inner_text, expandable):
    """Append the entity for a closed tag; <pre><code class="language-x"> becomes one pre."""
    if tag in ENTITY_TYPES:
        entities.append({"offset": offset, "length": length, "type": ENTITY_TYPES[tag]})
    elif tag == "a":
        entities.append({"offset": offset, "length": length, "type": "text_link",
                         "url": argument or inner_text})
    elif tag == "blockquote":
        entities.append({"offset": offset, "length": length,
                         "type": "expandable_blockquote" if expandable else "blockquote"})
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (last and last["type"] == "code" and (last["offset"], last["length"]) == (offset, length)
                and last.get("_code_language")):
            entities[-1] = {"offset": offset, "length": length, "type": "pre",
                            "language": last["_code_language"]}
        else:
            entities.append({"offset": offset, "length": length, "type": "pre"})
    elif tag == "code":
        last = entities[-1] if entities else None
        if last and last["type"] == "pre" and (last["offset"], last["length"]) == (offset, length) and argument:
            last["language"] = argument
        else:
            entity = {"offset": offset, "length": length, "type": "code"}
            if argument:
                entity["_code_language"] = argument  # dropped unless a <pre> wraps it
            entities.append(entity)


def trim_text(text, entities):
    """Telegram strips leading and trailing white space and clips the entities."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[:len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    clipped = []
    for e in entities:
        start, end = max(e["offset"] - lead, 0), min(e["offset"] + e["length"] - lead, total)
        if end > start:
            clipped.append({**e, "offset": start, "length": end - start})
    return stripped, clipped


def is_word_char(c):
    return c.isalnum() or c == "_"


def command_entities(text):
    """bot_command entities, as tdlib's match_bot_commands finds them."""
    found, n = [], len(text)

    def name_end(k):
        while k < n and text[k].isascii() and (text[k].isalnum() or text[k] == "_"):
            k += 1
        return k

    for i, c in enumerate(text):
        if c != "/" or (i > 0 and (is_word_char(text[i - 1]) or text[i - 1] in "/<>")):
            continue
        end = name_end(i + 1)
        if not 1 <= end - i - 1 <= 64:
            continue
        if end < n and text[end] == "@":
            mention_end = name_end(end + 1)
            if not 3 <= mention_end - end - 1 <= 32:
                continue
            end = mention_end
        if end < n and (is_word_char(text[end]) or text[end] in "/<>"):
            continue
        found.append({"offset": utf16_len(text[:i]), "length": utf16_len(text[i:end]), "type": "bot_command"})
    return found


# ---------------------------------------------------------------------------
# Parameters

class Params:
    """Arguments as telegram-bot-api sees them: name -> string; a JSON value that
    is not a string arrives as its JSON text; an empty string means "absent"."""

    def __init__(self, args):
        self.args = args

    def get(self, name):
        return self.args.get(name, "")

    def has(self, name):
        return self.get(name) != ""

    def integer(self, name, default=None):
        value = self.get(name).strip()
        if value == "":
            return default
        if not re.fullmatch(r"[+-]?[0-9]{1,18}", value):
            raise strict_only(f'parameter "{name}" must be an Integer',
                              f"{name}={value!r} is not an integer (the real API would read it as 0)")
        return int(value)

    def boolean(self, name):
        value = self.get(name).strip().lower()
        if value in ("", "false", "0"):
            return False
        if value in ("true", "1"):
            return True
        raise strict_only(f'parameter "{name}" must be a Boolean',
                          f"{name}={value!r} is not true/false (the real API would read it as false)")

    def json_object(self, name, what):
        """A JSON-serialised object parameter, or None."""
        value = self.get(name)
        if value == "":
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object", rejected=f"{name} is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise bad_request(f"can't parse {what} JSON object", rejected=f"{name} must be a JSON object")
        return parsed


def json_args(raw):
    """-> (args, typed). telegram-bot-api keeps strings, and passes other values as JSON text."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad_request("strings must be encoded in UTF-8", rejected="JSON body is not UTF-8") from None
    except ValueError as e:
        raise bad_request(f"can't parse parameter value: {e}", rejected="body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("JSON object expected", rejected="JSON body must be an object")
    pairs = []
    for key, value in body.items():
        if value is None:
            raise strict_only(f'parameter "{key}" is null',
                              f"{key} is null (the real API would read the string \"null\"; omit it instead)")
        pairs.append((key, value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))))
    return pairs, body


def multipart_args(content_type, raw):
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not msg.is_multipart():
        raise bad_request("can't parse multipart/form-data", rejected="malformed multipart body")
    pairs = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise bad_request("can't parse multipart/form-data", rejected="a part has no name")
        if part.get_filename():
            raise strict_only("files are not supported here", f"part {name!r} is a file upload")
        try:
            pairs.append((name, (part.get_payload(decode=True) or b"").decode("utf-8")))
        except UnicodeDecodeError:
            raise bad_request("strings must be encoded in UTF-8", rejected=f"part {name!r} is not UTF-8") from None
    return pairs


def form_pairs(text_bytes, where):
    try:
        return parse_qsl(text_bytes.decode("utf-8") if isinstance(text_bytes, bytes) else text_bytes,
                         keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise bad_request("strings must be encoded in UTF-8", rejected=f"{where} is not UTF-8") from None


def decode_params(headers, query, raw):
    """-> (Params, params as sent for the log, encoding name)."""
    pairs, shown, encodings = [], {}, []
    if query:
        qpairs = form_pairs(query, "query string")
        pairs += qpairs
        shown.update(qpairs)
        encodings.append("query")
    if raw:
        ctype = headers.get("Content-Type") or ""
        media = ctype.split(";")[0].strip().lower()
        if media == "application/json":
            jpairs, typed = json_args(raw)
            pairs += jpairs
            shown.update(typed)
            encodings.append("json")
        elif media == "application/x-www-form-urlencoded":
            fpairs = form_pairs(raw, "form body")
            pairs += fpairs
            shown.update(fpairs)
            encodings.append("form")
        elif media == "multipart/form-data":
            mpairs = multipart_args(ctype, raw)
            pairs += mpairs
            shown.update(mpairs)
            encodings.append("multipart")
        else:
            raise strict_only("unsupported Content-Type",
                              f"a body with Content-Type {ctype!r} (the real API would ignore the body)")
    args = {}
    for key, value in pairs:
        if key in args:
            raise strict_only(f'parameter "{key}" is specified more than once',
                              f"{key} given twice (query string and body, or repeated)")
        args[key] = value
    return Params(args), shown, "+".join(encodings) or "none"


# ---------------------------------------------------------------------------
# Shared checks of the message methods

def check_text(fake, p):
    """text/parse_mode/entities -> (plain, entities), like get_input_message_text."""
    raw = p.get("text")
    if raw == "":
        raise bad_request("message text is empty", rejected="text is missing or empty")
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
        raise bad_request("text is too long", rejected=f"raw text over {MAX_RAW_TEXT_BYTES} bytes")
    mode = p.get("parse_mode").lower()
    if mode not in ("", "none", "html", "markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode", rejected=f"parse_mode {p.get('parse_mode')!r}")
    if mode == "html":
        try:
            plain, entities = parse_html(raw, strict=fake.options["strict_html"])
        except EntityError as e:
            reason = str(e) + (" (the real API accepts this; the Bot API docs forbid it)" if e.strict_only else "")
            raise TgError(400, "Bad Request: can't parse entities: " + str(e), rejected=reason,
                          real_accepts=e.strict_only) from None
    elif mode in ("markdown", "markdownv2"):
        plain, entities = raw, []  # not parsed by the fake: it checks HTML only
    else:
        plain, entities = raw, check_entities_param(p)
    plain, entities = trim_text(plain, entities)
    return plain, entities


def check_entities_param(p):
    value = p.get("entities")
    if value == "":
        return []
    try:
        entities = json.loads(value)
    except ValueError:
        entities = None
    if not isinstance(entities, list) or not all(
            isinstance(e, dict) and isinstance(e.get("offset"), int) and isinstance(e.get("length"), int)
            and isinstance(e.get("type"), str) for e in entities):
        raise bad_request("can't parse entities JSON object",
                          rejected="entities must be an array of {offset, length, type}")
    return entities


def check_text_length(plain):
    # After the chat checks in the real server, but an agent bug either way.
    if not plain:
        raise bad_request("message must be non-empty", rejected="text is empty after entity parsing and trimming")
    if len(plain) > MAX_TEXT_CHARS:
        raise bad_request("message is too long",
                          rejected=f"{len(plain)} characters after entity parsing (limit {MAX_TEXT_CHARS})")


def check_chat_id(p):
    value = p.get("chat_id").strip()
    if value == "":
        raise bad_request("chat_id is empty", rejected="chat_id is missing")
    if value.startswith("@"):
        raise bad_request("chat not found", rejected=f"chat_id {value}: the fake resolves no @usernames")
    if not re.fullmatch(r"-?[0-9]{1,18}", value) or int(value) == 0:
        raise bad_request("chat not found", rejected=f"chat_id {value!r} is not a non-zero integer")
    return int(value)


def check_link_preview(p):
    options = p.json_object("link_preview_options", "link preview options")
    disabled = p.boolean("disable_web_page_preview")
    if options is not None:
        if "is_disabled" in options and not isinstance(options["is_disabled"], bool):
            raise bad_request("can't parse link preview options JSON object",
                              rejected="link_preview_options.is_disabled must be a boolean")
        disabled = options.get("is_disabled", False)
    return {"disabled": disabled, "options": options}


def check_reply(p):
    """-> (message_id or None, allow_sending_without_reply)."""
    allow = p.boolean("allow_sending_without_reply")
    params = p.json_object("reply_parameters", "reply parameters")
    if params is not None:
        mid = params.get("message_id")
        if not isinstance(mid, int) or isinstance(mid, bool) or mid <= 0:
            raise bad_request("can't parse reply parameters JSON object",
                              rejected="reply_parameters.message_id must be a positive integer")
        allow = bool(params.get("allow_sending_without_reply", allow))
        return mid, allow
    mid = p.integer("reply_to_message_id")
    return (mid if mid and mid > 0 else None), allow


# ---------------------------------------------------------------------------
# In-memory state

@dataclass(kw_only=True)
class Fault(fakebase.Fault):
    """One injected fault (POST /__fake/inject); see fakebase.FakeHandler._apply_fault."""
    method: re.Pattern
    chat_id: Optional[str] = None
    description: Optional[str] = None
    retry_after: Optional[int] = None
    migrate_to_chat_id: Optional[int] = None

    SHOWN = ("chat_id", "status", "description", "retry_after", "migrate_to_chat_id",
             "headers", "hang_s", "close", "malformed")

    def selector(self):
        return {"method": self.method.pattern}

    def matches(self, method, params):
        if not self.method.fullmatch(method):
            return False
        return self.chat_id is None or params.get("chat_id").strip() == self.chat_id


class FakeTelegram(fakebase.FakeState):
    """All state, guarded by one lock; API and admin handlers run with it held.
    `cond` (on the same lock) wakes long polls and admin waits."""

    def __init__(self, token, username, first_name):
        self.token = token
        m = re.match(r"([0-9]{1,15}):", token)
        self.bot = {"id": int(m.group(1)) if m else 7000000001, "is_bot": True, "first_name": first_name,
                    "username": username, "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False, "can_connect_to_business": False,
                    "has_main_web_app": False}
        super().__init__()
        # Never rewound, not even by reset: an agent that keeps polling across tests
        # with its old offset must still see new updates (update ids only grow).
        self.next_update_id = FIRST_UPDATE_ID
        self.next_message_id = 1
        # Connection-level: the getUpdates now waiting, and those told to give up.
        self.poller, self.terminated = None, set()
        self.reset()

    def reset(self):
        with self.lock:
            self.updates = []           # pending Update objects, ascending update_id
            self.allowed_updates = None  # None: the default set
            self.chats = {}             # chat id -> Chat object (seen in updates)
            self.messages = {}          # (chat id, message id) -> stored message
            self.sent = []
            self.requests, self.next_request_id = [], 1
            self.faults, self.next_fault_id = [], 1
            self.down = None            # None or {"mode": ...}
            self.latency_ms = 0
            self.options = dict(DEFAULT_OPTIONS)
            self.cond.notify_all()

    def clear_logs(self):
        self.requests.clear()
        self.sent.clear()

    # -- updates

    def allowed(self):
        return DEFAULT_ALLOWED if self.allowed_updates is None else self.allowed_updates

    def enqueue(self, kind, payload):
        """Add an update, unless its type is not allowed (then the real server
        never creates it). Returns the Update, or None when dropped."""
        if kind not in self.allowed():
            return None
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        self.cond.notify_all()  # wake a waiting getUpdates at once
        return update

    def confirm(self, offset):
        """Offset semantics of getUpdates; returns a note when the offset was ignored."""
        if offset < 0:
            del self.updates[:max(len(self.updates) + offset, 0)]  # keep the last -offset
            return None
        if offset == 0:
            return None
        if offset > self.next_update_id + OFFSET_FUTURE_SLACK:
            return "offset is in the future: served from the head of the queue, nothing confirmed"
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        return None

    # -- chats and messages

    def chat(self, chat_id):
        """The Chat object for an id: as seen in updates, else made up from the id's shape."""
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id > 0:
            return {"id": chat_id, "first_name": f"User {chat_id}", "type": "private"}
        if chat_id <= -1000000000000:
            return {"id": chat_id, "title": f"Group {chat_id}", "type": "supergroup"}
        return {"id": chat_id, "title": f"Group {chat_id}", "type": "group"}

    def new_message_id(self):
        # One counter for all chats, like a bot's private chats and basic groups; it
        # also makes "message N of the wrong chat" fail instead of hitting another message.
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def record_sent(self, method, chat_id, message_id, args, edited):
        self.sent.append({
            "seq": len(self.sent) + 1, "time": now_iso(), "t": time.time(), "method": method,
            "chat_id": chat_id, "message_thread_id": args.get("thread_id"), "message_id": message_id,
            "text": args["plain"], "raw_text": args["raw_text"], "parse_mode": args["parse_mode"] or None,
            "entities": args["entities"], "edited": edited,
            "reply_to_message_id": args.get("reply_to"),
            "link_preview_disabled": args["link_preview"]["disabled"],
        })
        self.cond.notify_all()

    def state(self):
        return {
            "bot": self.bot, "pending_updates": len(self.updates), "next_update_id": self.next_update_id,
            "next_message_id": self.next_message_id,
            "allowed_updates": None if self.allowed_updates is None else sorted(self.allowed_updates),
            "chats": list(self.chats.values()), "polling": self.poller is not None,
            "down": self.down, "latency_ms": self.latency_ms, "options": self.options,
            "faults": [f.describe() for f in self.faults],
            "sent_count": len(self.sent), "request_count": len(self.requests),
        }


# ---------------------------------------------------------------------------
# API methods: check(fake, params) -> args validates without touching state (so a
# rejected request never consumes a fault); run(fake, args, entry) -> result,
# with fake.lock held.

def check_nothing(fake, p):
    return {}


def get_me(fake, args, entry):
    return dict(fake.bot)


def check_get_updates(fake, p):
    offset = p.integer("offset", 0)
    limit = p.integer("limit", MAX_LIMIT)
    timeout = p.integer("timeout", 0)
    if not -2**31 <= offset < 2**31:
        raise strict_only('parameter "offset" is out of range', "offset must fit in 32 bits")
    allowed = None
    if p.has("allowed_updates"):
        raw = p.get("allowed_updates")
        try:
            allowed = json.loads(raw)
        except ValueError:
            allowed = None
        # The real server silently ignores a bad value and keeps the previous setting.
        if not isinstance(allowed, list) or not all(isinstance(t, str) for t in allowed):
            raise strict_only("can't parse allowed_updates JSON array",
                              f"allowed_updates must be a JSON array of strings (got {raw!r}; "
                              "the real API would silently keep the previous setting)")
        unknown = [t for t in allowed if t.lower() not in UPDATE_TYPES]
        if unknown:
            raise strict_only("unknown update type in allowed_updates",
                              f"unknown update types {unknown} (the real API ignores them)")
    return {"offset": offset, "limit": limit, "timeout": timeout, "allowed": allowed}


def new_poll_record(p, entry):
    """What /__fake/polls shows for every getUpdates call, even a refused one."""
    def value(name):
        raw = p.get(name)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw
    return {"offset": value("offset"), "limit": value("limit"), "timeout": value("timeout"),
            "timeout_effective": None, "allowed_updates": value("allowed_updates"),
            "arrived": entry["time"], "t": entry["t"], "update_ids": [], "outcome": None, "note": None}


def get_updates(fake, a, entry):
    # Like telegram-bot-api: out-of-range limit and timeout are clamped, not refused.
    limit = min(max(a["limit"], 1), MAX_LIMIT)
    timeout = min(max(a["timeout"], 0), LONG_POLL_MAX_TIMEOUT)
    if a["allowed"] is not None:
        # Remembered for later calls; an empty list means the default set.
        fake.allowed_updates = frozenset(t.lower() for t in a["allowed"]) or None
    poll = entry["poll"]
    poll.update(timeout_effective=timeout, note=fake.confirm(a["offset"]))
    ready = fake.updates[:limit]
    if not ready and timeout > 0:
        ready = wait_for_updates(fake, entry, limit, timeout)
    poll["update_ids"] = [u["update_id"] for u in ready]
    poll["outcome"] = "updates" if ready else "empty"
    return copy.deepcopy(ready)


def wait_for_updates(fake, entry, limit, timeout):
    mine, poll = entry["id"], entry["poll"]
    if fake.poller is not None:
        if fake.options["conflict"] == "reject_new":
            poll["outcome"] = "conflict"
            raise TgError(409, MSG_CONFLICT)
        # telegram-bot-api's abort_long_poll: the poll already waiting gets the 409.
        fake.terminated.add(fake.poller)
    fake.poller = mine
    fake.cond.notify_all()
    deadline = time.monotonic() + timeout
    try:
        while True:
            if mine in fake.terminated:
                fake.terminated.discard(mine)
                poll["outcome"] = "conflict"
                raise TgError(409, MSG_CONFLICT)
            if fake.down:
                poll["outcome"] = "down"
                raise DownInterrupt()
            ready = fake.updates[:limit]
            left = deadline - time.monotonic()
            if ready or left <= 0 or fake.stop.is_set():
                return ready
            fake.cond.wait(min(left, 0.5))
    finally:
        if fake.poller == mine:
            fake.poller = None


def check_send_message(fake, p):
    plain, entities = check_text(fake, p)
    chat_id = check_chat_id(p)
    thread_id = p.integer("message_thread_id")
    if thread_id is not None and thread_id <= 0:
        raise strict_only('parameter "message_thread_id" must be positive',
                          f"message_thread_id={thread_id} (the real API would ignore it)")
    reply_to, allow_without_reply = check_reply(p)
    args = {"chat_id": chat_id, "thread_id": thread_id, "reply_to": reply_to,
            "allow_without_reply": allow_without_reply, "plain": plain, "entities": entities,
            "raw_text": p.get("text"), "parse_mode": p.get("parse_mode"),
            "link_preview": check_link_preview(p),
            "reply_markup": p.json_object("reply_markup", "reply keyboard markup")}
    for flag in ("disable_notification", "protect_content", "allow_paid_broadcast"):
        p.boolean(flag)
    check_text_length(plain)
    return args


def check_chat_known(fake, chat_id):
    if fake.options["known_chats_only"] and chat_id not in fake.chats:
        if chat_id > 0:
            raise TgError(403, "Forbidden: bot can't initiate conversation with a user")
        raise bad_request("chat not found")


def send_message(fake, a, entry):
    chat_id = a["chat_id"]
    check_chat_known(fake, chat_id)
    chat = fake.chat(chat_id)
    replied = None
    if a["reply_to"]:
        replied = fake.messages.get((chat_id, a["reply_to"]))
        if replied is None and not a["allow_without_reply"]:
            raise bad_request("message to be replied not found")
    # A message's "from" is a plain User: getMe's capability fields are not part of it.
    sender = {k: fake.bot[k] for k in ("id", "is_bot", "first_name", "username")}
    msg = {"message_id": fake.new_message_id(), "from": sender, "chat": dict(chat),
           "date": int(time.time()), "text": a["plain"]}
    if a["entities"]:
        msg["entities"] = a["entities"]
    # The real server drops a thread id where there can be no topics (basic groups,
    # supergroups that are not forums); unknown chats are given the benefit of the doubt.
    if a["thread_id"] and not (chat["type"] == "group" or
                               (chat["type"] == "supergroup" and chat_id in fake.chats and not chat.get("is_forum"))):
        msg["message_thread_id"], msg["is_topic_message"] = a["thread_id"], True
    if replied is not None:
        msg["reply_to_message"] = copy.deepcopy(replied["message"])
        msg["reply_to_message"].pop("reply_to_message", None)
    if a["reply_markup"] is not None:
        msg["reply_markup"] = a["reply_markup"]
    fake.messages[(chat_id, msg["message_id"])] = {"message": msg, "from_bot": True, "text": a["plain"],
                                                   "entities": a["entities"], "reply_markup": a["reply_markup"]}
    fake.record_sent("sendMessage", chat_id, msg["message_id"], a, edited=False)
    return copy.deepcopy(msg)


def check_edit_message_text(fake, p):
    plain, entities = check_text(fake, p)
    if p.has("business_connection_id"):
        raise strict_only("business connections are not supported here", "business_connection_id given")
    if not p.has("chat_id") and not p.has("message_id"):
        if p.has("inline_message_id"):
            raise strict_only("MESSAGE_ID_INVALID", "inline messages are not supported by the fake")
        raise bad_request("message identifier is not specified", rejected="neither chat_id nor message_id given")
    chat_id = check_chat_id(p)
    message_id = p.integer("message_id", 0)
    if message_id <= 0:
        raise bad_request("message to edit not found", rejected="message_id is missing or not positive")
    args = {"chat_id": chat_id, "message_id": message_id, "plain": plain, "entities": entities,
            "raw_text": p.get("text"), "parse_mode": p.get("parse_mode"),
            "link_preview": check_link_preview(p),
            "reply_markup": p.json_object("reply_markup", "reply keyboard markup")}
    check_text_length(plain)
    return args


def edit_message_text(fake, a, entry):
    stored = fake.messages.get((a["chat_id"], a["message_id"]))
    if stored is None:
        raise bad_request("message to edit not found")
    if not stored["from_bot"]:
        raise bad_request("message can't be edited")
    if (stored["text"], stored["entities"], stored["reply_markup"]) == (a["plain"], a["entities"], a["reply_markup"]):
        raise TgError(400, MSG_NOT_MODIFIED)
    msg = stored["message"]
    msg["text"], msg["edit_date"] = a["plain"], int(time.time())
    msg.pop("entities", None)
    if a["entities"]:
        msg["entities"] = a["entities"]
    msg.pop("reply_markup", None)
    if a["reply_markup"] is not None:
        msg["reply_markup"] = a["reply_markup"]
    stored.update(text=a["plain"], entities=a["entities"], reply_markup=a["reply_markup"])
    a = {**a, "thread_id": msg.get("message_thread_id")}
    fake.record_sent("editMessageText", a["chat_id"], a["message_id"], a, edited=True)
    return copy.deepcopy(msg)


# ---------------------------------------------------------------------------
# The route table (method names are case-insensitive in the Bot API)

@dataclass(frozen=True)
class Route:
    name: str
    check: Callable
    run: Callable
    params: frozenset


ROUTES = {r.name.lower(): r for r in (
    Route("getMe", check_nothing, get_me, frozenset()),
    Route("getUpdates", check_get_updates, get_updates, GET_UPDATES_PARAMS),
    Route("sendMessage", check_send_message, send_message, SEND_MESSAGE_PARAMS),
    Route("editMessageText", check_edit_message_text, edit_message_text, EDIT_MESSAGE_TEXT_PARAMS),
)}


def find_route(fake, path):
    m = API_PATH.fullmatch(path)
    if not m:
        raise TgError(404, "Not Found", rejected="not a /bot<token>/<method> path")
    if m.group("token") != fake.token:
        raise TgError(401, "Unauthorized", rejected="wrong bot token")
    route = ROUTES.get(m.group("method").lower())
    if route is None:
        raise TgError(404, "Not Found", rejected=f"unknown method {m.group('method')!r}")
    return route


def check_unknown_params(fake, route, p):
    if not fake.options["strict_params"]:
        return
    unknown = sorted(set(p.args) - route.params)
    if unknown:
        raise strict_only(f'unknown parameter "{unknown[0]}"',
                          f"{route.name} takes no parameter {unknown} (the real API would ignore it)")


# ---------------------------------------------------------------------------
# Admin (test control) handlers: (fake, params, body) -> dict; run with the lock.
# `params` holds the query string of GET requests.

def wait_until(fake, params, count):
    """?wait_s=S&min=N: wait up to S seconds until count() >= N (tests need no sleep loops)."""
    try:
        wait_s, least = float(params.get("wait_s", 0)), int(params.get("min", 1))
    except ValueError:
        raise AdminError("wait_s must be a number and min an integer") from None
    fakebase.wait_for_count(fake, wait_s, least, count)


def admin_requests(fake, params, body):
    admin_fields(params, ["method", "wait_s", "min"])

    def chosen():
        method = params.get("method", "").lower()
        return [r for r in fake.requests if not method or r["method"].lower() == method]
    wait_until(fake, params, lambda: len(chosen()))
    return {"requests": copy.deepcopy(chosen())}


def admin_polls(fake, params, body):
    admin_fields(params, ["wait_s", "min"])

    def polls():
        return [{"request_id": r["id"], "status": r["status"], "encoding": r["encoding"], **r["poll"]}
                for r in fake.requests if r.get("poll")]
    wait_until(fake, params, lambda: len(polls()))
    return {"polls": copy.deepcopy(polls())}


def admin_sent(fake, params, body):
    admin_fields(params, ["chat_id", "wait_s", "min"])

    def chosen():
        chat = params.get("chat_id")
        return [s for s in fake.sent if chat is None or str(s["chat_id"]) == chat]
    wait_until(fake, params, lambda: len(chosen()))
    return {"sent": copy.deepcopy(chosen())}


def admin_clear(fake, params, body):
    fake.clear_logs()
    return {}


def admin_pending(fake, params, body):
    return {"updates": copy.deepcopy(fake.updates)}


def build_message_update(fake, body):
    """A realistic incoming text message from the admin description."""
    admin_fields(body, ["chat_id", "user_id", "text", "chat_type", "message_thread_id", "username",
                        "first_name", "last_name", "chat_title", "reply_to_message_id", "date", "kind"])
    chat_id, user_id = body.get("chat_id"), body.get("user_id")
    chat_type = body.get("chat_type")
    if chat_id is None and user_id is None:
        raise AdminError("give chat_id or user_id")
    for key in ("chat_id", "user_id", "message_thread_id", "reply_to_message_id", "date"):
        if body.get(key) is not None and not is_int(body[key]):
            raise AdminError(f"{key} must be an integer")
    if chat_type is None:  # inferred from the id's shape, as Telegram's ids have one
        if chat_id is None or chat_id > 0:
            chat_type = "private"
        else:
            chat_type = "supergroup" if chat_id <= -1000000000000 else "group"
    if chat_type == "private":
        chat_id = user_id if chat_id is None else chat_id
        user_id = chat_id if user_id is None else user_id
        if chat_id <= 0 or chat_id != user_id:
            raise AdminError("a private chat's id is the (positive) user id")
    elif chat_type in ("group", "supergroup"):
        if chat_id is None or chat_id >= 0:
            raise AdminError("group chat ids are negative")
        if chat_type == "supergroup" and chat_id > -1000000000000:
            raise AdminError("supergroup ids look like -100xxxxxxxxxx")
        user_id = 424242 if user_id is None else user_id
        if user_id <= 0:
            raise AdminError("user_id must be positive")
    else:
        raise AdminError("chat_type must be private, group or supergroup")
    text = body.get("text")
    if not isinstance(text, str) or not text or len(text) > MAX_TEXT_CHARS:
        raise AdminError("text must be a non-empty string of at most 4096 characters")
    thread_id = body.get("message_thread_id")
    if thread_id is not None and (thread_id <= 0 or chat_type == "group"):
        raise AdminError("message_thread_id must be positive, in a supergroup or private chat")
    kind = body.get("kind", "message")
    if kind not in ("message", "edited_message"):
        raise AdminError("kind must be message or edited_message")

    reply_to = body.get("reply_to_message_id")
    replied = None
    if reply_to is not None:
        replied = fake.messages.get((chat_id, reply_to))
        if replied is None:
            raise AdminError(f"no message {reply_to} in chat {chat_id} to reply to")

    user = {"id": user_id, "is_bot": False, "first_name": body.get("first_name", f"Tester{user_id % 1000}")}
    for key in ("last_name", "username"):
        if body.get(key):
            user[key] = body[key]
    user["language_code"] = "en"
    if chat_type == "private":
        chat = {"id": chat_id, **{k: v for k, v in user.items() if k in ("first_name", "last_name", "username")},
                "type": "private"}
    else:
        chat = {"id": chat_id, "title": body.get("chat_title", f"Group {chat_id}"), "type": chat_type}
        previous = fake.chats.get(chat_id, {})
        if thread_id or previous.get("is_forum"):
            chat["is_forum"] = True
    fake.chats[chat_id] = chat

    msg = {"message_id": fake.new_message_id(), "from": user, "chat": chat,
           "date": body.get("date", int(time.time())), "text": text}
    if thread_id:
        msg["message_thread_id"], msg["is_topic_message"] = thread_id, True
    if replied is not None:
        msg["reply_to_message"] = {k: v for k, v in replied["message"].items() if k != "reply_to_message"}
    entities = command_entities(text)
    if entities:
        msg["entities"] = entities
    if kind == "edited_message":
        msg["edit_date"] = msg["date"]
    fake.messages[(chat_id, msg["message_id"])] = {"message": msg, "from_bot": False, "text": text,
                                                    "entities": entities, "reply_markup": None}
    return kind, msg


def admin_enqueue(fake, params, body):
    """An incoming update: a text message described by fields, or {"update": raw}."""
    if "update" in body:
        admin_fields(body, ["update"])
        raw = body["update"]
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in UPDATE_TYPES:
            raise AdminError("update must be an object with exactly one update type key (no update_id)")
        kind, payload = next(iter(raw.items()))
    else:
        kind, payload = build_message_update(fake, body)
    update = fake.enqueue(kind, payload)
    if update is None:
        return {"queued": False, "reason": f"{kind} is not in allowed_updates", "update": {kind: payload}}
    return {"queued": True, "update": copy.deepcopy(update)}


def admin_inject(fake, params, body):
    admin_fields(body, ["method", "chat_id", "times", "status", "description", "retry_after",
                        "migrate_to_chat_id", "body", "headers", "hang_s", "close", "malformed"])
    method = fakebase.fault_regex(body, "method", re.IGNORECASE)
    times, status = fakebase.fault_times_status(body)
    for key in ("retry_after", "migrate_to_chat_id"):
        if body.get(key) is not None and not is_int(body[key]):
            raise AdminError(f"{key} must be an integer")
    if body.get("description") is not None and not isinstance(body["description"], str):
        raise AdminError("description must be a string")
    chat_id = body.get("chat_id")
    if chat_id is not None and not is_int(chat_id) and not isinstance(chat_id, str):
        raise AdminError("chat_id must be an integer or a string")
    malformed = fakebase.fault_malformed(body, ("html", "cut", "truncated"))
    hang_s, headers = fakebase.fault_hang_headers(body)
    answers = (status is not None or body.get("description") or body.get("retry_after") is not None
               or body.get("migrate_to_chat_id") is not None or "body" in body or body.get("close")
               or malformed)
    if not answers and not hang_s:
        raise AdminError("a fault needs one of status, description, retry_after, migrate_to_chat_id, "
                         "body, close, malformed or hang_s")
    return fake.add_fault(Fault, body, method=method, times=times,
                          chat_id=None if chat_id is None else str(chat_id), status=status,
                          description=body.get("description"), retry_after=body.get("retry_after"),
                          migrate_to_chat_id=body.get("migrate_to_chat_id"), headers=headers, hang_s=hang_s,
                          malformed=malformed)


def admin_options(fake, params, body):
    admin_fields(body, DEFAULT_OPTIONS)
    for key, value in body.items():
        if type(value) is not type(DEFAULT_OPTIONS[key]):
            raise AdminError(f"{key} must be of type {type(DEFAULT_OPTIONS[key]).__name__}")
    if body.get("conflict", "terminate_old") not in ("terminate_old", "reject_new"):
        raise AdminError("conflict must be terminate_old or reject_new")
    fake.options.update(body)
    return {"options": fake.options}


ADMIN_ROUTES = [
    ("GET", r"/state", fakebase.admin_state),
    ("GET", r"/requests", admin_requests),
    ("POST", r"/requests/clear", fakebase.admin_requests_clear),
    ("GET", r"/polls", admin_polls),
    ("GET", r"/sent", admin_sent),
    ("POST", r"/updates", admin_enqueue),
    ("GET", r"/updates", admin_pending),
    ("POST", r"/inject", admin_inject),
    ("GET", r"/faults", fakebase.admin_faults),
    ("POST", r"/faults/clear", fakebase.admin_faults_clear),
    ("POST", r"/down", fakebase.admin_down),
    ("POST", r"/latency", fakebase.admin_latency),
    ("POST", r"/options", admin_options),
    ("POST", r"/clear", admin_clear),
    ("POST", r"/reset", fakebase.admin_reset),
]

DEFAULT_DESCRIPTIONS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot was blocked by the user",
    404: "Not Found", 409: MSG_CONFLICT, 500: "Internal Server Error", 502: "Bad Gateway",
}

NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
             b"</body>\r\n</html>\r\n")


# ---------------------------------------------------------------------------
# HTTP

class Handler(fakebase.FakeHandler):
    server_version = "nginx/1.18.0"  # what api.telegram.org announces
    fake: FakeTelegram = None  # set by fakebase.serve()
    log_name = "fake_telegram"
    admin_routes = ADMIN_ROUTES
    error_page = NGINX_502  # what the nginx in front of the Bot API sends when it breaks
    json_ascii = False

    def _log_line(self, text):
        super()._log_line(redact(text, self.fake.token))  # never the token; message texts are not logged

    # -- API

    def _log_entry(self, url):
        fake = self.fake
        m = API_PATH.fullmatch(url.path)
        path = url.path
        bot = re.match(r"/bot([^/]*)", path)
        if bot:  # whatever sits where the token goes may be a real secret: never log it
            shown_token = "<token>" if bot.group(1) == fake.token else "<wrong-token>"
            path = f"/bot{shown_token}{path[bot.end():]}"
        method = m.group("method") if m else None
        if method and method.lower() in ROUTES:
            method = ROUTES[method.lower()].name
        with fake.lock:
            entry = {"id": fake.next_request_id, "time": now_iso(), "t": time.time(),
                     "http_method": self.command, "path": redact(path, fake.token), "method": method or "",
                     "token_ok": bool(m) and m.group("token") == fake.token,
                     "content_type": self.headers.get("Content-Type"), "encoding": None, "params": None,
                     "status": None, "description": None, "rejected": False, "reject_reason": None,
                     "real_api_accepts": None, "fault": None, "down": None, "answered_t": None}
            fake.next_request_id += 1
            fake.requests.append(entry)
        return entry

    def _finish(self, entry, status, error=None, note=""):
        """Record the outcome. Called *before* answering, so that a client reading
        /__fake/requests right after its response always sees it."""
        fake = self.fake
        with fake.lock:
            entry["status"], entry["answered_t"] = status, time.time()
            if error is not None:
                entry["description"] = redact(error.description, fake.token)
                if error.rejected:
                    entry["rejected"], entry["reject_reason"] = True, redact(error.rejected, fake.token)
                    entry["real_api_accepts"] = error.real_accepts
            fake.cond.notify_all()
        line = f"{entry['http_method']} {entry['path']}"
        if entry["encoding"]:
            line += f" {entry['encoding']}"
        if entry["params"]:
            line += " " + ",".join(sorted(entry["params"]))  # parameter names only
        line += f" -> {status if status is not None else 'closed'}"
        if error is not None:
            line += f" {error.description}"
            if error.rejected:
                line += f" REJECTED: {error.rejected}"
        if entry["fault"]:
            line += f" fault#{entry['fault']['id']}"
        self._log_line(line + note)

    def _serve_api(self, url, raw):
        fake = self.fake
        entry = self._log_entry(url)
        if fake.down:
            return self._refuse_down(entry)
        if fake.latency_ms:
            fake.stop.wait(fake.latency_ms / 1000.0)
        try:
            if self.command not in ("GET", "POST"):
                raise TgError(501, "Not Implemented", rejected=f"HTTP method {self.command}")
            route = find_route(fake, url.path)
            params, shown, encoding = decode_params(self.headers, url.query, raw)
            with fake.lock:
                entry["encoding"], entry["params"] = encoding, redact(shown, fake.token)
                if route.name == "getUpdates":
                    entry["poll"] = redact(new_poll_record(params, entry), fake.token)
            check_unknown_params(fake, route, params)
            args = route.check(fake, params)
            fault = fake.take_fault(route.name, params)
            if fault:
                with fake.lock:
                    entry["fault"] = fault.describe()
                    if entry.get("poll"):
                        entry["poll"]["outcome"] = "fault"
                if self._apply_fault(fault, entry):
                    return
            with fake.lock:
                result = route.run(fake, args, entry)
                data = json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()
            self._finish(entry, 200)
            self._send(200, data)
        except TgError as e:
            if entry.get("poll") and entry["poll"]["outcome"] is None:
                entry["poll"]["outcome"] = "rejected" if e.rejected else "error"
            self._finish(entry, e.status, e)
            self._send(e.status, e.envelope(), e.headers)
        except DownInterrupt:
            self._refuse_down(entry)
        except (BrokenPipeError, ConnectionResetError):
            raise  # the client went away (e.g. timed out during a hang): not a fake bug
        except Exception as e:  # a bug in the fake: answer and flag it loudly, never hang
            traceback.print_exc()
            error = TgError(500, f"Internal Server Error: fake_telegram bug: {e!r}", rejected="fake internal error")
            self._finish(entry, 500, error)
            self._send(500, error.envelope())

    def _refuse_down(self, entry):
        with self.fake.lock:
            if entry.get("poll"):
                entry["poll"]["outcome"] = "down"
        super()._refuse_down(entry)

    def _fault_status(self, fault):
        return fault.status or (429 if fault.retry_after is not None else 400 if (
            fault.description or fault.migrate_to_chat_id is not None) else 200)

    def _malformed_json(self, status):
        return json.dumps({"ok": False, "error_code": status, "description": "x"} if status >= 400
                          else {"ok": True, "result": {}}).encode()

    def _answer_fault(self, fault, status, entry):
        if status == 200:
            return False
        error = self._fault_error(fault, status)
        self._finish(entry, status, error)
        self._send(status, error.envelope(), error.headers)
        return True

    @staticmethod
    def _fault_error(fault, status):
        parameters, headers = {}, dict(fault.headers)
        if fault.retry_after is not None or status == 429:
            retry_after = 3 if fault.retry_after is None else fault.retry_after
            parameters["retry_after"] = retry_after
            headers.setdefault("Retry-After", str(retry_after))  # telegram-bot-api sends both
            default = f"Too Many Requests: retry after {retry_after}"
        elif fault.migrate_to_chat_id is not None:
            default = "Bad Request: group chat was upgraded to a supergroup chat"
        else:
            default = DEFAULT_DESCRIPTIONS.get(status) or fakebase.injected_reason(status)
        if fault.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = fault.migrate_to_chat_id
        return TgError(status, fault.description or default, parameters=parameters or None, headers=headers)


# ---------------------------------------------------------------------------

def parse_args(argv):
    p = fakebase.arg_parser(__doc__)
    p.add_argument("--token", required=True, help="the bot token to accept in /bot<token>/")
    p.add_argument("--bot-username", default="tether_test_bot")
    p.add_argument("--bot-name", default="Tether Test", help="the bot's first_name")
    args = p.parse_args(argv)
    if not args.token or "/" in args.token:
        p.error("--token must be non-empty and contain no '/'")
    if not re.fullmatch(r"[A-Za-z0-9_]{5,32}", args.bot_username):
        p.error("--bot-username must be 5-32 letters, digits or underscores")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fake = FakeTelegram(args.token, args.bot_username, args.bot_name)
    return fakebase.serve(Handler, fake, args, lambda port: (
        f"http://127.0.0.1:{port}/bot<token>/ bot=@{args.bot_username} id={fake.bot['id']}"))


if __name__ == "__main__":
    sys.exit(main())
