#!/usr/bin/python3
"""Self-test of fake_telegram.py: starts it as a subprocess on port 0 and talks to
it with urllib, the way tether's tests will (through its HTTP interface only).

    /usr/bin/python3 -m unittest discover -s test/fakes -p test_fake_telegram.py
    /usr/bin/python3 test/fakes/test_fake_telegram.py
"""

import http.client
import json
import os
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fakeclient  # noqa: E402
from fakeclient import stop_fake  # noqa: E402

FAKE = os.path.join(HERE, "fake_telegram.py")
TOKEN = "7123456789:AAH-test_TOKEN_0123456789abcdefghijk"
BOT_ID = 7123456789
USER = 4242001          # a private chat: chat id == user id
GROUP = -1001234567890  # a supergroup
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


def start_fake(tmpdir, *extra):
    return fakeclient.start_fake(FAKE, tmpdir, "--token", TOKEN, *extra)


class Client(fakeclient.Client):
    def call(self, method, params=None, encoding="json", token=TOKEN, **kw):
        """A Bot API call with the parameters sent as JSON, a form or a query string."""
        path = f"/bot{token}/{method}"
        if encoding == "json":
            data = json.dumps(params or {}).encode()
            return self.request("POST", path, data, {"Content-Type": "application/json"}, **kw)
        if encoding == "form":
            return self.request("POST", path, urlencode(params or {}).encode(),
                                {"Content-Type": "application/x-www-form-urlencoded"}, **kw)
        return self.request("GET", path + ("?" + urlencode(params) if params else ""), **kw)


class FakeTestCase(fakeclient.FakeTestCase):
    start = staticmethod(start_fake)
    client = Client

    # -- helpers

    def ok(self, method, params=None, encoding="json", **kw):
        status, payload, _ = self.c.call(method, params, encoding, **kw)
        self.assertEqual(status, 200, payload)
        self.assertIs(payload["ok"], True, payload)
        return payload["result"]

    def fails(self, status, description, method, params=None, encoding="json", **kw):
        """`description` is a prefix of the expected one."""
        got, payload, _ = self.c.call(method, params, encoding, **kw)
        self.assertEqual((got, payload["ok"], payload["error_code"]), (status, False, status), payload)
        self.assertTrue(payload["description"].startswith(description), payload)
        return payload

    def rejected(self, status, description, method, params=None, encoding="json", **kw):
        payload = self.fails(status, description, method, params, encoding, **kw)
        entry = self.requests()[-1]
        self.assertTrue(entry["rejected"], entry)
        self.assertTrue(entry["reject_reason"], entry)
        return payload

    def requests(self, query=""):
        return self.c.admin("GET", "/requests" + query)[1]["requests"]

    def sent(self, query=""):
        return self.c.admin("GET", "/sent" + query)[1]["sent"]

    def polls(self):
        return self.c.admin("GET", "/polls")[1]["polls"]

    def enqueue(self, text="/status", **fields):
        body = {"chat_id": USER, "text": text, **fields}
        status, reply = self.c.admin("POST", "/updates", body)
        self.assertEqual(status, 200, reply)
        return reply["update"]

    def inject(self, **fault):
        status, reply = self.c.admin("POST", "/inject", fault)
        self.assertEqual(status, 200, reply)
        return reply["fault"]

    def send(self, text, **params):
        return self.ok("sendMessage", {"chat_id": USER, "text": text, **params})

    def html_fails(self, text, detail=""):
        payload = self.rejected(400, "Bad Request: can't parse entities: " + detail, "sendMessage",
                                {"chat_id": USER, "text": text, "parse_mode": "HTML"})
        return payload["description"]

    def in_thread(self, func):
        """Run func() in a thread; returns (thread, result dict with "value" or "error")."""
        result = {}

        def run():
            start = time.monotonic()
            try:
                result["value"] = func()
            except Exception as e:  # noqa: BLE001 - handed to the test
                result["error"] = e
            result["elapsed"] = time.monotonic() - start
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th, result


class BasicsTest(FakeTestCase):
    def test_get_me(self):
        me = self.ok("getMe", encoding="query")
        self.assertEqual(me, {"id": BOT_ID, "is_bot": True, "first_name": "Tether Test",
                              "username": "tether_test_bot", "can_join_groups": True,
                              "can_read_all_group_messages": False, "supports_inline_queries": False,
                              "can_connect_to_business": False, "has_main_web_app": False})
        self.assertEqual(self.ok("getMe")["id"], BOT_ID)  # an empty JSON object works too
        self.assertEqual(self.ok("GETME", encoding="query")["id"], BOT_ID)  # methods are case-insensitive

    def test_wrong_token_and_unknown_method(self):
        status, payload, _ = self.c.call("getMe", encoding="query", token="7123456789:wrong")
        self.assertEqual((status, payload), (401, {"ok": False, "error_code": 401, "description": "Unauthorized"}))
        status, payload, _ = self.c.call("sendSticker", {"chat_id": USER})
        self.assertEqual((status, payload), (404, {"ok": False, "error_code": 404, "description": "Not Found"}))
        status, payload, _ = self.c.request("GET", f"/bot{TOKEN}")
        self.assertEqual(status, 404)
        entries = self.requests()
        self.assertEqual(entries[0]["path"], "/bot<wrong-token>/getMe")
        self.assertFalse(entries[0]["token_ok"])
        self.assertEqual(entries[1]["path"], "/bot<token>/sendSticker")
        self.assertNotIn(TOKEN, json.dumps(entries))

    def test_request_log_shape(self):
        self.send("hello")
        self.ok("sendMessage", {"chat_id": str(USER), "text": "form"}, encoding="form")
        self.ok("getMe", encoding="query")
        entries = self.requests()
        self.assertEqual([e["encoding"] for e in entries], ["json", "form", "none"])
        self.assertEqual(entries[0]["params"], {"chat_id": USER, "text": "hello"})  # JSON types kept
        self.assertEqual(entries[1]["params"], {"chat_id": str(USER), "text": "form"})
        for e in entries:
            for key in ("id", "time", "t", "http_method", "path", "method", "status", "answered_t"):
                self.assertIn(key, e)
            self.assertEqual(e["status"], 200)
        self.assertEqual(self.requests("?method=sendMessage")[1]["params"]["text"], "form")

    def test_token_in_text_is_redacted_from_the_log_but_not_from_sent(self):
        self.send(f"oops {TOKEN}")
        self.assertNotIn(TOKEN, json.dumps(self.requests()))
        self.assertIn(TOKEN, self.sent()[0]["text"])  # /sent shows what the chat would see

    def test_only_get_and_post(self):
        status, payload, _ = self.c.request("PUT", f"/bot{TOKEN}/getMe")
        self.assertEqual((status, payload["error_code"]), (501, 501))


class GetUpdatesTest(FakeTestCase):
    def poll(self, **params):
        return self.ok("getUpdates", params)

    def test_long_poll_wakes_on_enqueue(self):
        th, result = self.in_thread(lambda: self.poll(timeout=5))
        time.sleep(0.3)
        update = self.enqueue("/tunnel start 8080")
        th.join(5)
        self.assertNotIn("error", result)
        self.assertEqual([u["update_id"] for u in result["value"]], [update["update_id"]])
        self.assertLess(result["elapsed"], 1.5)
        self.assertGreaterEqual(result["elapsed"], 0.25)

    def test_long_poll_times_out_empty(self):
        start = time.monotonic()
        self.assertEqual(self.poll(timeout=1), [])
        self.assertGreaterEqual(time.monotonic() - start, 0.95)
        start = time.monotonic()
        self.assertEqual(self.poll(), [])  # timeout 0: a short poll
        self.assertLess(time.monotonic() - start, 0.5)

    def test_pending_update_returns_at_once(self):
        self.enqueue()
        start = time.monotonic()
        self.assertEqual(len(self.poll(timeout=10)), 1)
        self.assertLess(time.monotonic() - start, 0.5)

    def test_update_shape(self):
        u = self.enqueue("/tunnel@tether_test_bot start 8080 /x", username="op", user_id=USER)
        msg = u["message"]
        self.assertEqual(msg["chat"], {"id": USER, "first_name": msg["from"]["first_name"],
                                       "username": "op", "type": "private"})
        self.assertEqual(msg["from"]["id"], USER)
        self.assertIs(msg["from"]["is_bot"], False)
        self.assertIsInstance(msg["date"], int)
        self.assertEqual(msg["entities"], [{"offset": 0, "length": 23, "type": "bot_command"},
                                           {"offset": 35, "length": 2, "type": "bot_command"}])
        self.assertNotIn("entities", self.enqueue("no command/here")["message"])
        g = self.enqueue("/status", chat_id=GROUP, user_id=USER, message_thread_id=7)["message"]
        self.assertEqual(g["chat"]["type"], "supergroup")
        self.assertIs(g["chat"]["is_forum"], True)
        self.assertEqual((g["message_thread_id"], g["is_topic_message"]), (7, True))
        self.assertEqual(self.enqueue("hi", chat_id=-4000001, user_id=USER)["message"]["chat"]["type"], "group")

    def test_offset_confirms_and_forgets(self):
        ids = [self.enqueue(f"/m{i}")["update_id"] for i in range(3)]
        self.assertEqual([u["update_id"] for u in self.poll()], ids)  # offset 0: nothing confirmed
        self.assertEqual([u["update_id"] for u in self.poll()], ids)
        self.assertEqual([u["update_id"] for u in self.poll(offset=ids[1])], ids[1:])
        self.assertEqual([u["update_id"] for u in self.poll()], ids[1:])  # ids[0] is gone for good
        self.assertEqual([u["update_id"] for u in self.poll(offset=ids[2] + 1)], [])
        self.assertEqual(self.poll(), [])
        later = self.enqueue("/later")["update_id"]
        self.assertEqual(later, ids[2] + 1)
        self.assertEqual([u["update_id"] for u in self.poll(offset=later)], [later])

    def test_limit_and_negative_offset(self):
        ids = [self.enqueue(f"/m{i}")["update_id"] for i in range(4)]
        self.assertEqual([u["update_id"] for u in self.poll(limit=2)], ids[:2])
        self.assertEqual([u["update_id"] for u in self.poll(offset=-1)], ids[3:])  # the rest forgotten
        self.assertEqual([u["update_id"] for u in self.poll()], ids[3:])

    def test_offset_far_in_the_future_is_served_from_the_head(self):
        ids = [self.enqueue(f"/m{i}")["update_id"] for i in range(2)]
        self.assertEqual([u["update_id"] for u in self.poll(offset=ids[1] + 50)], ids)
        self.assertIn("future", self.polls()[-1]["note"])
        self.assertEqual(self.poll(offset=ids[1] + 5), [])  # within the slack: confirms all

    def test_update_ids_survive_reset(self):
        first = self.enqueue()["update_id"]
        self.c.admin("POST", "/reset")
        self.assertGreater(self.enqueue()["update_id"], first)

    def test_polls_are_recorded(self):
        self.enqueue()
        self.c.call("getUpdates", {"offset": "5", "timeout": "0", "allowed_updates": '["message"]'}, "form")
        self.c.call("getUpdates", {"timeout": 60, "limit": 500})  # clamped like the real server
        polls = self.polls()
        self.assertEqual(len(polls), 2)
        self.assertEqual((polls[0]["offset"], polls[0]["timeout"], polls[0]["allowed_updates"], polls[0]["encoding"]),
                         (5, 0, ["message"], "form"))
        self.assertEqual((polls[1]["timeout"], polls[1]["timeout_effective"], polls[1]["limit"]), (60, 50, 500))
        self.assertEqual(polls[1]["outcome"], "updates")
        for p in polls:
            self.assertIn("arrived", p)
            self.assertIsInstance(p["t"], float)

    def test_concurrent_poll_terminates_the_older_one(self):
        th, result = self.in_thread(lambda: self.c.call("getUpdates", {"timeout": 10}))
        time.sleep(0.3)
        start = time.monotonic()
        self.assertEqual(self.poll(timeout=1), [])
        th.join(5)
        status, payload, _ = result["value"]
        self.assertEqual((status, payload), (409, {"ok": False, "error_code": 409, "description": CONFLICT}))
        self.assertLess(result["elapsed"], 2)  # answered when the second arrived, not after 10 s
        self.assertGreaterEqual(time.monotonic() - start, 0.95)
        self.assertEqual([p["outcome"] for p in self.polls()], ["conflict", "empty"])

    def test_reject_new_option(self):
        self.c.admin("POST", "/options", {"conflict": "reject_new"})
        th, result = self.in_thread(lambda: self.poll(timeout=3))
        time.sleep(0.3)
        start = time.monotonic()
        self.fails(409, CONFLICT, "getUpdates", {"timeout": 1})
        self.assertLess(time.monotonic() - start, 0.5)
        self.enqueue()
        th.join(5)
        self.assertEqual(len(result["value"]), 1)  # the first poll was left alone

    def test_allowed_updates(self):
        self.rejected(400, "Bad Request: can't parse allowed_updates", "getUpdates", {"allowed_updates": "message"})
        self.rejected(400, "Bad Request: can't parse allowed_updates", "getUpdates",
                      {"allowed_updates": '{"a": 1}'}, encoding="form")
        self.rejected(400, "Bad Request: unknown update type", "getUpdates", {"allowed_updates": ["mesage"]})
        self.assertTrue(self.requests()[-1]["real_api_accepts"])
        self.poll(allowed_updates=["callback_query"])  # remembered for later calls
        status, reply = self.c.admin("POST", "/updates", {"chat_id": USER, "text": "/dropped"})
        self.assertEqual((status, reply["queued"]), (200, False))
        self.assertEqual(self.c.admin("GET", "/state")[1]["allowed_updates"], ["callback_query"])
        self.poll(allowed_updates=[])  # empty: back to the default set
        self.enqueue()
        self.assertEqual(len(self.poll()), 1)

    def test_strict_integers(self):
        self.rejected(400, 'Bad Request: parameter "offset" must be an Integer', "getUpdates",
                      {"offset": "abc"}, encoding="query")
        self.rejected(400, 'Bad Request: unknown parameter "timeout_s"', "getUpdates", {"timeout_s": 5})


class SendMessageTest(FakeTestCase):
    def test_json_form_query_and_multipart(self):
        a = self.send("via json")
        b = self.ok("sendMessage", {"chat_id": str(USER), "text": "via form"}, encoding="form")
        c = self.ok("sendMessage", {"chat_id": USER, "text": "via query"}, encoding="query")
        boundary = "xYzZY"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{USER}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nvia multipart ü\r\n"
                f"--{boundary}--\r\n").encode()
        status, d, _ = self.c.request("POST", f"/bot{TOKEN}/sendMessage", body,
                                      {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(status, 200, d)
        ids = [a["message_id"], b["message_id"], c["message_id"], d["result"]["message_id"]]
        self.assertEqual(len(set(ids)), 4)
        self.assertEqual([e["encoding"] for e in self.requests()], ["json", "form", "query", "multipart"])
        self.assertEqual([s["text"] for s in self.sent()], ["via json", "via form", "via query", "via multipart ü"])

    def test_message_object(self):
        msg = self.send("hello")
        self.assertEqual(msg["from"], {"id": BOT_ID, "is_bot": True, "first_name": "Tether Test",
                                       "username": "tether_test_bot"})
        self.assertEqual(msg["chat"]["id"], USER)
        self.assertEqual(msg["chat"]["type"], "private")
        self.assertEqual(msg["text"], "hello")
        self.assertNotIn("entities", msg)
        group = self.ok("sendMessage", {"chat_id": GROUP, "text": "g"})
        self.assertEqual(group["chat"]["type"], "supergroup")
        self.assertGreater(group["message_id"], msg["message_id"])

    def test_sent_log(self):
        msg = self.send("<b>up</b>", parse_mode="HTML", disable_web_page_preview=True)
        (entry,) = self.sent()
        self.assertEqual(entry["chat_id"], USER)
        self.assertEqual(entry["message_id"], msg["message_id"])
        self.assertEqual((entry["text"], entry["raw_text"], entry["parse_mode"]), ("up", "<b>up</b>", "HTML"))
        self.assertEqual(entry["entities"], [{"offset": 0, "length": 2, "type": "bold"}])
        self.assertIs(entry["edited"], False)
        self.assertIs(entry["link_preview_disabled"], True)
        self.assertIsNone(entry["message_thread_id"])
        self.ok("sendMessage", {"chat_id": GROUP, "text": "g"})
        self.assertEqual(len(self.sent(f"?chat_id={GROUP}")), 1)

    def test_sent_wait(self):
        th, _ = self.in_thread(lambda: (time.sleep(0.3), self.send("later")))
        start = time.monotonic()
        sent = self.c.admin("GET", "/sent?wait_s=5&min=1")[1]["sent"]
        self.assertEqual(len(sent), 1)
        self.assertLess(time.monotonic() - start, 2)
        th.join(5)

    def test_missing_and_empty(self):
        self.rejected(400, "Bad Request: message text is empty", "sendMessage", {"chat_id": USER})
        self.rejected(400, "Bad Request: message text is empty", "sendMessage", {"chat_id": USER, "text": ""})
        self.rejected(400, "Bad Request: chat_id is empty", "sendMessage", {"text": "x"})
        self.rejected(400, "Bad Request: chat not found", "sendMessage", {"chat_id": "abc", "text": "x"})
        self.rejected(400, "Bad Request: message must be non-empty", "sendMessage",
                      {"chat_id": USER, "text": "<b> </b>", "parse_mode": "HTML"})
        self.rejected(400, "Bad Request: unsupported parse_mode", "sendMessage",
                      {"chat_id": USER, "text": "x", "parse_mode": "XML"})
        self.assertEqual(self.sent(), [])

    def test_strict_parameters(self):
        self.rejected(400, 'Bad Request: unknown parameter "parse_mod"', "sendMessage",
                      {"chat_id": USER, "text": "x", "parse_mod": "HTML"})
        self.rejected(400, 'Bad Request: parameter "parse_mode" is null', "sendMessage",
                      {"chat_id": USER, "text": "x", "parse_mode": None})
        status, payload, _ = self.c.request("POST", f"/bot{TOKEN}/sendMessage?chat_id={USER}",
                                            json.dumps({"chat_id": USER, "text": "x"}).encode(),
                                            {"Content-Type": "application/json"})
        self.assertEqual(status, 400, payload)  # the same parameter twice
        status, payload, _ = self.c.request("POST", f"/bot{TOKEN}/sendMessage", b"chat_id=1&text=x",
                                            {"Content-Type": "text/plain"})
        self.assertEqual((status, payload["description"]), (400, "Bad Request: unsupported Content-Type"))
        status, payload, _ = self.c.request("POST", f"/bot{TOKEN}/sendMessage", b"{not json",
                                            {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.c.admin("POST", "/options", {"strict_params": False})
        self.send("x", parse_mod="HTML")  # ignored, as the real API would

    def test_html_valid(self):
        text = ('<b>bold <i>both</i></b> <strong>s</strong> <em>e</em> <u>u</u> <ins>i</ins> <s>s</s> '
                '<strike>k</strike> <del>d</del> <tg-spoiler>t</tg-spoiler> <span class="tg-spoiler">p</span> '
                '<a href="https://example.com/?a=1&amp;b=2">link</a> <code>c</code> '
                '<pre><code class="language-python">x = 1</code></pre> <blockquote>q</blockquote> '
                '&lt;tag&gt; &amp; &quot;q&quot; &#128512; &#x41; 😀 <B>upper</B>')
        msg = self.send(text, parse_mode="HTML")
        self.assertEqual(msg["text"], 'bold both s e u i s k d t p link c x = 1 q <tag> & "q" 😀 A 😀 upper')
        types = [e["type"] for e in msg["entities"]]
        self.assertEqual(types, ["bold", "italic", "bold", "italic", "underline", "underline", "strikethrough",
                                 "strikethrough", "strikethrough", "spoiler", "spoiler", "text_link", "code",
                                 "pre", "blockquote", "bold"])
        link = msg["entities"][11]
        self.assertEqual((link["url"], link["offset"], link["length"]), ("https://example.com/?a=1&b=2", 28, 4))
        self.assertEqual(msg["entities"][13]["language"], "python")
        self.assertEqual(msg["entities"][-1]["offset"], 63)  # UTF-16: each emoji counts 2
        self.assertEqual(self.requests()[-1]["status"], 200)

    def test_html_expandable_blockquote_and_whitespace_trim(self):
        msg = self.send("  \n<blockquote expandable>long</blockquote>\n ", parse_mode="HTML")
        self.assertEqual(msg["text"], "long")
        self.assertEqual(msg["entities"], [{"offset": 0, "length": 4, "type": "expandable_blockquote"}])

    def test_html_rejected(self):
        cases = {
            "a < b": 'Unsupported start tag "" at byte offset 2',
            "<foo>x</foo>": 'Unsupported start tag "foo" at byte offset 0',
            "<br/>": 'Unsupported start tag "br/" at byte offset 0',
            "<b>x": 'Can\'t find end tag corresponding to start tag "b"',
            "<b><i>x</b></i>": 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
            "x</b>": "Unexpected end tag at byte offset 1",
            "<b": "Unclosed start tag at byte offset 0",
            "<span>x</span>": 'Tag "span" must have class "tg-spoiler" at byte offset 0',
            '<a href=x">y</a>': "Unexpected end of name token at byte offset 8",
            "é <": "Unclosed start tag at byte offset 3",  # byte offsets, not characters
        }
        for text, detail in cases.items():
            with self.subTest(text=text):
                self.assertEqual(self.html_fails(text), "Bad Request: can't parse entities: " + detail)
                self.assertFalse(self.requests()[-1]["real_api_accepts"])

    def test_html_strict_escapes(self):
        for text in ("a & b", "a > b", "&nbsp;", "&amp", '<a href="https://x/?a=1&b=2">l</a>'):
            with self.subTest(text=text):
                self.html_fails(text, "Unescaped")
                self.assertTrue(self.requests()[-1]["real_api_accepts"])
        self.c.admin("POST", "/options", {"strict_html": False})  # now as lenient as tdlib
        self.assertEqual(self.send("a & b > c &amp d", parse_mode="HTML")["text"], "a & b > c & d")
        self.html_fails("a < b")  # still wrong for the real API too

    def test_plain_text_is_not_parsed(self):
        self.assertEqual(self.send("a < b & <b>c</b>")["text"], "a < b & <b>c</b>")

    def test_length_limit(self):
        self.send("x" * 4096)
        self.rejected(400, "Bad Request: message is too long", "sendMessage", {"chat_id": USER, "text": "x" * 4097})
        self.send("<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # tags do not count
        self.send("&amp;" * 4096, parse_mode="HTML")  # an entity is one character
        self.rejected(400, "Bad Request: message is too long", "sendMessage",
                      {"chat_id": USER, "text": "<i>" + "x" * 4097 + "</i>", "parse_mode": "HTML"})
        self.send("😀" * 4096)  # characters, not UTF-16 units or bytes
        self.rejected(400, "Bad Request: text is too long", "sendMessage",
                      {"chat_id": USER, "text": "<b></b>" * 5000, "parse_mode": "HTML"})

    def test_thread_ids(self):
        self.enqueue("/status", chat_id=GROUP, user_id=USER, message_thread_id=7)
        msg = self.ok("sendMessage", {"chat_id": GROUP, "text": "in topic", "message_thread_id": 7})
        self.assertEqual((msg["message_thread_id"], msg["is_topic_message"]), (7, True))
        self.assertIs(msg["chat"]["is_forum"], True)
        self.assertEqual(self.sent()[-1]["message_thread_id"], 7)
        plain_group = -1009999999999
        self.enqueue("hi", chat_id=plain_group, user_id=USER)  # a known supergroup that is no forum
        msg = self.ok("sendMessage", {"chat_id": plain_group, "text": "t", "message_thread_id": 7})
        self.assertNotIn("message_thread_id", msg)  # ignored, as Telegram does
        self.assertEqual(self.sent()[-1]["message_thread_id"], 7)  # but what the agent sent is kept
        self.rejected(400, 'Bad Request: parameter "message_thread_id" must be positive', "sendMessage",
                      {"chat_id": GROUP, "text": "t", "message_thread_id": 0})

    def test_replies(self):
        incoming = self.enqueue("/status")["message"]
        msg = self.send("ok", reply_to_message_id=incoming["message_id"])
        self.assertEqual(msg["reply_to_message"]["text"], "/status")
        msg = self.send("ok", reply_parameters={"message_id": incoming["message_id"]})
        self.assertEqual(msg["reply_to_message"]["message_id"], incoming["message_id"])
        self.fails(400, "Bad Request: message to be replied not found", "sendMessage",
                   {"chat_id": USER, "text": "x", "reply_to_message_id": 999999})
        self.assertNotIn("reply_to_message",
                         self.send("x", reply_parameters={"message_id": 999999, "allow_sending_without_reply": True}))
        self.rejected(400, "Bad Request: can't parse reply parameters JSON object", "sendMessage",
                      {"chat_id": USER, "text": "x", "reply_parameters": "{"}, encoding="form")

    def test_known_chats_only(self):
        self.c.admin("POST", "/options", {"known_chats_only": True})
        self.fails(403, "Forbidden: bot can't initiate conversation with a user", "sendMessage",
                   {"chat_id": USER, "text": "x"})
        self.fails(400, "Bad Request: chat not found", "sendMessage", {"chat_id": GROUP, "text": "x"})
        self.enqueue("/start")
        self.send("now known")


class EditMessageTextTest(FakeTestCase):
    def test_edit(self):
        msg = self.send("starting")
        edited = self.ok("editMessageText", {"chat_id": USER, "message_id": msg["message_id"],
                                             "text": "<b>started</b>", "parse_mode": "HTML"})
        self.assertEqual((edited["message_id"], edited["text"]), (msg["message_id"], "started"))
        self.assertIn("edit_date", edited)
        self.assertEqual(edited["entities"], [{"offset": 0, "length": 7, "type": "bold"}])
        log = self.sent()
        self.assertEqual([(s["method"], s["edited"], s["message_id"]) for s in log],
                         [("sendMessage", False, msg["message_id"]), ("editMessageText", True, msg["message_id"])])
        self.assertEqual(log[1]["text"], "started")

    def test_not_modified(self):
        msg = self.send("<b>same</b>", parse_mode="HTML")
        payload = self.fails(400, "Bad Request: message is not modified: specified new message content and "
                                  "reply markup are exactly the same", "editMessageText",
                             {"chat_id": USER, "message_id": msg["message_id"], "text": "<b>same</b>",
                              "parse_mode": "HTML"})
        self.assertFalse(self.requests()[-1]["rejected"])  # a state error, not a malformed request
        self.assertTrue(payload["description"].endswith("of the message"))
        # The same characters with other formatting is a modification.
        self.ok("editMessageText", {"chat_id": USER, "message_id": msg["message_id"], "text": "same"})

    def test_edit_errors(self):
        msg = self.send("mine")
        incoming = self.enqueue("/status")["message"]
        self.fails(400, "Bad Request: message to edit not found", "editMessageText",
                   {"chat_id": USER, "message_id": 987654, "text": "x"})
        self.fails(400, "Bad Request: message to edit not found", "editMessageText",
                   {"chat_id": USER + 1, "message_id": msg["message_id"], "text": "x"})  # wrong chat
        self.fails(400, "Bad Request: message can't be edited", "editMessageText",
                   {"chat_id": USER, "message_id": incoming["message_id"], "text": "x"})
        self.rejected(400, "Bad Request: message identifier is not specified", "editMessageText", {"text": "x"})
        self.rejected(400, "Bad Request: chat_id is empty", "editMessageText", {"message_id": 1, "text": "x"})
        self.rejected(400, "Bad Request: message text is empty", "editMessageText",
                      {"chat_id": USER, "message_id": msg["message_id"]})
        self.rejected(400, "Bad Request: message is too long", "editMessageText",
                      {"chat_id": USER, "message_id": msg["message_id"], "text": "y" * 4097})
        self.assertEqual(len(self.sent()), 1)


class InjectTest(FakeTestCase):
    def test_status_and_description(self):
        self.inject(method="sendMessage", status=403, times=2)
        self.fails(403, "Forbidden: bot was blocked by the user", "sendMessage", {"chat_id": USER, "text": "x"})
        self.inject(method="sendMessage", status=400, description="Bad Request: chat not found")
        self.fails(403, "Forbidden: bot was blocked by the user", "sendMessage", {"chat_id": USER, "text": "x"})
        self.fails(400, "Bad Request: chat not found", "sendMessage", {"chat_id": USER, "text": "x"})
        self.send("through")
        self.assertEqual(len(self.sent()), 1)  # failed sends are not delivered
        self.assertEqual(self.requests()[0]["fault"]["id"], 1)

    def test_retry_after(self):
        self.inject(method="sendMessage", retry_after=7)
        status, payload, headers = self.c.call("sendMessage", {"chat_id": USER, "text": "x"})
        self.assertEqual((status, payload), (429, {"ok": False, "error_code": 429,
                                                   "description": "Too Many Requests: retry after 7",
                                                   "parameters": {"retry_after": 7}}))
        self.assertEqual(headers["Retry-After"], "7")

    def test_migrate_to_chat_id(self):
        self.inject(method="sendMessage", migrate_to_chat_id=GROUP)
        payload = self.fails(400, "Bad Request: group chat was upgraded to a supergroup chat", "sendMessage",
                             {"chat_id": -4000001, "text": "x"})
        self.assertEqual(payload["parameters"], {"migrate_to_chat_id": GROUP})

    def test_method_regex_and_chat_filter(self):
        self.inject(method="send.*", chat_id=GROUP, status=500)
        self.send("other chat is fine")
        self.ok("getMe")
        self.fails(500, "Internal Server Error", "sendMessage", {"chat_id": GROUP, "text": "x"})
        self.inject(method="getupdates", status=502)  # case-insensitive
        self.fails(502, "Bad Gateway", "getUpdates")
        self.assertEqual(self.polls()[-1]["outcome"], "fault")

    def test_rejected_request_does_not_consume_fault(self):
        self.inject(method="sendMessage", status=503)
        self.rejected(400, "Bad Request: message text is empty", "sendMessage", {"chat_id": USER})
        self.fails(503, "Service Unavailable", "sendMessage", {"chat_id": USER, "text": "x"})

    def test_hang_then_answer(self):
        self.inject(method="sendMessage", hang_s=1.0)
        th, result = self.in_thread(lambda: self.send("slow"))
        time.sleep(0.1)
        start = time.monotonic()
        self.ok("getMe")  # others are not blocked
        self.assertLess(time.monotonic() - start, 0.5)
        th.join(5)
        self.assertNotIn("error", result)
        self.assertGreaterEqual(result["elapsed"], 1.0)

    def test_close(self):
        self.inject(method="sendMessage", close=True, hang_s=0.2)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            self.send("x")
        self.assertIsNone(self.requests()[-1]["status"])
        self.assertEqual(self.sent(), [])

    def test_malformed(self):
        self.inject(method="getMe", malformed=True, status=502)
        status, payload, headers = self.c.call("getMe")
        self.assertEqual(status, 502)
        self.assertIsInstance(payload, bytes)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.inject(method="getMe", malformed="cut")
        status, payload, _ = self.c.call("getMe")
        self.assertEqual(status, 200)
        self.assertIsInstance(payload, bytes)  # not parseable
        self.inject(method="getMe", malformed="truncated")
        with self.assertRaises(http.client.IncompleteRead):
            self.c.call("getMe")

    def test_raw_body(self):
        self.inject(method="getMe", status=200, body={"ok": True, "result": "weird"})
        self.assertEqual(self.ok("getMe"), "weird")

    def test_inject_validation_and_listing(self):
        for bad in ({"method": "("}, {"times": 0}, {"status": 99}, {"colour": 1}, {"malformed": "x"},
                    {"hang_s": "1"}, {}, {"retry_after": "5"}):
            with self.subTest(bad=bad):
                self.assertEqual(self.c.admin("POST", "/inject", bad)[0], 400)
        self.inject(method="getMe", status=500, times=3)
        self.assertEqual(self.c.admin("GET", "/faults")[1]["faults"][0]["times_left"], 3)
        self.c.admin("POST", "/faults/clear")
        self.ok("getMe")


class DownTest(FakeTestCase):
    def tearDown(self):
        self.c.admin("POST", "/down", {"down": False})

    def test_close_mode(self):
        self.assertEqual(self.c.admin("POST", "/down", {"down": True})[0], 200)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            self.c.call("getMe")
        self.assertEqual(self.c.admin("GET", "/state")[1]["down"]["mode"], "close")  # admin still works
        entry = self.requests()[-1]
        self.assertEqual((entry["down"], entry["status"]), ("close", None))
        self.c.admin("POST", "/down", {"down": False})
        self.ok("getMe")

    def test_502_mode(self):
        self.c.admin("POST", "/down", {"down": True, "mode": "502"})
        status, payload, headers = self.c.call("sendMessage", {"chat_id": USER, "text": "x"})
        self.assertEqual(status, 502)
        self.assertIn(b"502 Bad Gateway", payload)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertEqual(self.sent(), [])

    def test_hang_mode(self):
        self.c.admin("POST", "/down", {"down": True, "mode": "hang"})
        with self.assertRaises((TimeoutError, urllib.error.URLError)):
            self.c.call("getMe", timeout=0.5)

    def test_going_down_breaks_a_waiting_poll(self):
        th, result = self.in_thread(lambda: self.c.call("getUpdates", {"timeout": 10}))
        time.sleep(0.3)
        self.c.admin("POST", "/down", {"down": True})
        th.join(5)
        self.assertIn("error", result)
        self.assertLess(result["elapsed"], 2)
        self.assertEqual(self.polls()[-1]["outcome"], "down")

    def test_bad_down_requests(self):
        for bad in ({}, {"down": "yes"}, {"down": True, "mode": "slow"}):
            self.assertEqual(self.c.admin("POST", "/down", bad)[0], 400)


class AdminTest(FakeTestCase):
    def test_clear_keeps_state_reset_does_not(self):
        self.c.admin("POST", "/options", {"strict_html": False})
        self.enqueue()
        msg = self.send("x")
        self.c.admin("POST", "/clear")
        self.assertEqual((self.requests(), self.sent()), ([], []))
        self.assertEqual(len(self.c.admin("GET", "/updates")[1]["updates"]), 1)
        self.ok("editMessageText", {"chat_id": USER, "message_id": msg["message_id"], "text": "y"})
        self.c.admin("POST", "/reset")
        st = self.c.admin("GET", "/state")[1]
        self.assertEqual((st["pending_updates"], st["options"]["strict_html"], st["chats"]), (0, True, []))
        self.fails(400, "Bad Request: message to edit not found", "editMessageText",
                   {"chat_id": USER, "message_id": msg["message_id"], "text": "z"})

    def test_enqueue_validation(self):
        for bad in ({"text": "x"}, {"chat_id": USER}, {"chat_id": USER, "text": ""},
                    {"chat_id": USER, "user_id": USER + 1, "text": "x"},
                    {"chat_id": -5, "text": "x", "chat_type": "supergroup"},
                    {"chat_id": USER, "text": "x", "chat_type": "channel"},
                    {"chat_id": -5, "text": "x", "message_thread_id": 3},
                    {"chat_id": USER, "text": "x", "reply_to_message_id": 12345},
                    {"chat_id": USER, "text": "x", "colour": "red"}):
            with self.subTest(bad=bad):
                self.assertEqual(self.c.admin("POST", "/updates", bad)[0], 400)
        self.assertEqual(self.c.admin("GET", "/state")[1]["chats"], [])  # nothing half-made

    def test_raw_update(self):
        status, reply = self.c.admin("POST", "/updates", {"update": {"callback_query": {"id": "1", "data": "x"}}})
        self.assertEqual(status, 200, reply)
        (update,) = self.ok("getUpdates")
        self.assertEqual(update["callback_query"]["data"], "x")

    def test_requests_wait_and_filter(self):
        th, _ = self.in_thread(lambda: (time.sleep(0.3), self.ok("getMe"), self.send("x")))
        got = self.c.admin("GET", "/requests?method=sendMessage&wait_s=5&min=1")[1]["requests"]
        th.join(5)
        self.assertEqual([r["method"] for r in got], ["sendMessage"])

    def test_admin_errors(self):
        self.assertEqual(self.c.admin("GET", "/nope")[0], 404)
        self.assertEqual(self.c.admin("POST", "/options", {"unknown": 1})[0], 400)
        self.assertEqual(self.c.admin("POST", "/options", {"conflict": "both"})[0], 400)
        self.assertEqual(self.c.admin("GET", "/sent?wait_s=x")[0], 400)

    def test_latency(self):
        self.c.admin("POST", "/latency", {"ms": 300})
        start = time.monotonic()
        self.ok("getMe")
        self.assertGreaterEqual(time.monotonic() - start, 0.3)


class LifecycleTest(unittest.TestCase):
    """Process-level behaviour: port file, signals, what reaches stderr."""

    def test_sigterm_exits_zero_and_stderr_has_no_token(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, err_path = start_fake(tmp, "--bot-username", "other_test_bot")
            try:
                with open(os.path.join(tmp, "port")) as f:
                    self.assertRegex(f.read(), r"^[0-9]+\n$")
                c = Client(port)
                self.assertEqual(c.call("getMe")[1]["result"]["username"], "other_test_bot")
                c.call("sendMessage", {"chat_id": USER, "text": f"secret text {TOKEN}"})
                c.call("sendMessage", {"chat_id": USER, "text": "<x>", "parse_mode": "HTML"})
                c.call("getMe", token="wrong-token-value")
                c.request("GET", "/botwrong-token-value")  # no method: still masked
            finally:
                self.assertEqual(stop_fake(proc), 0)
            with open(err_path) as f:
                log = f.read()
        self.assertNotIn(TOKEN, log)
        self.assertNotIn("wrong-token-value", log)
        self.assertNotIn("secret text", log)  # parameter names only, never values
        self.assertEqual(len([ln for ln in log.splitlines() if "/bot<" in ln and "listening" not in ln]), 5)

    def test_sigint_exits_zero_during_a_long_poll(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, _ = start_fake(tmp)
            c = Client(port)
            status, took = fakeclient.stop_during(proc, lambda: c.call("getUpdates", {"timeout": 30}, timeout=40))
            self.assertEqual(status, 0)
            self.assertLess(took, 5)


if __name__ == "__main__":
    unittest.main()
