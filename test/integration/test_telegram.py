"""The Telegram control channel against the local fake Bot API."""

import json
import os
import re
import signal
import time

import promparse
from harness import AgentTest, alive, main, wait_until

BOT = "424242:telegram-bot-token-xyzzy0123"
GROUP, USER, THREAD = -1001234567890, 7, 77
PRIVATE = USER  # a private chat's id is its user's id


class TelegramTest(AgentTest):
    def setUp(self):
        super().setUp()
        self.tg = self.fake("fake_telegram.py", "--token", BOT, "--bot-username", "tether_test_bot")

    def tg_agent(self, poll=2, extra="", directory=None, marker=None, env=None, watchdog=""):
        a = self.agent(start=False, config=None, directory=directory, marker=marker, env=env)
        a.write_config("""
[watchdog]
backoff_initial_ms = 50
backoff_max_ms = 100
start_wait_s = 10
%s
[telegram]
bot_token_env = TETHER_BOT
allowed_chat_ids = %d, %d
allowed_user_ids = %d
api_base = %s
poll_timeout_s = %d
""" % (watchdog, GROUP, PRIVATE, USER, self.tg.base, poll) + extra)
        a.env["TETHER_BOT"] = BOT
        a.start()
        wait_until(lambda: self.tg.admin("polls")["polls"], what="the first getUpdates")
        return a

    def say(self, text, chat=GROUP, user=USER, thread=None):
        update = {"chat_id": chat, "user_id": user, "text": text,
                  "chat_type": "supergroup" if chat < 0 else "private"}
        if thread:
            update["message_thread_id"] = thread
        self.tg.admin("updates", update)

    def sent(self, n, timeout=20):
        return wait_until(lambda: (lambda s: s if len(s) >= n else None)(self.tg.admin("sent")["sent"]),
                          timeout=timeout, what="%d messages from the bot" % n)

    def reply_to(self, text, n_before, **kw):
        """Says text and returns the bot's next message."""
        self.say(text, **kw)
        return self.sent(n_before + 1)[n_before]


class Commands(TelegramTest):
    def test_start_with_a_bad_argument_is_answered_without_starting(self):
        self.tg_agent()
        for n, text in enumerate(("/tunnel start 99999", "/tunnel start Bad_Name", "/tunnel start 8080 later")):
            msg = self.reply_to(text, n)
            self.assertNotIn("its URL follows", msg["text"])
            self.assertTrue(msg["text"].startswith("start failed (usage)"), msg["text"])
        self.assertEqual(len(self.tg.admin("sent")["sent"]), 3)

    def test_start_list_status_stop_killall_help(self):
        a = self.tg_agent()
        self.say("/tunnel start 8080", thread=THREAD)
        ack, result = self.sent(2)
        self.assertEqual((ack["chat_id"], ack["message_thread_id"]), (GROUP, THREAD))
        self.assertIn("starting 8080", ack["text"])
        url = re.search(r"https://[a-z0-9-]+\.trycloudflare\.com", result["text"]).group(0)
        self.assertIn("8080 " + url, result["text"])
        self.assertEqual((result["parse_mode"], result["message_thread_id"]), ("HTML", THREAD))
        self.assertEqual(a.json("status 8080")["tunnel"]["url"], url)

        msg = self.reply_to("/tunnel list", 2)
        self.assertIn("1 tunnels", msg["text"])
        self.assertRegex(msg["text"], r"8080 running %s up \d+s" % re.escape(url))

        msg = self.reply_to("/tunnel status 8080", 3)
        self.assertIn("8080 running", msg["text"])
        self.assertIn("url: " + url, msg["text"])

        msg = self.reply_to("/tunnel stop 8080", 4)
        self.assertIn("stopped 8080", msg["text"])
        self.assertEqual(a.json("list")["tunnels"], [])

        a.ok("start 8081")
        a.ok("start 8082")
        msg = self.reply_to("/tunnel killall", 5)
        self.assertIn("stopped 2 tunnels", msg["text"])

        for n, text in enumerate(("/tunnel", "/tunnel help")):
            msg = self.reply_to(text, 6 + n)
            self.assertIn("/tunnel start &lt;port&gt;", msg["raw_text"])
            self.assertIn("/tunnel killall", msg["text"])

        msg = self.reply_to("/tunnel frobnicate", 8)
        self.assertIn("unknown command 'frobnicate'", msg["text"])
        msg = self.reply_to("/tunnel stop 9999", 9)
        self.assertIn("stop failed", msg["text"])
        self.assertIn("no tunnel '9999'", msg["text"])

    def test_start_name_and_provision(self):
        api = self.fake("fake_cfapi.py", "--token", "cf-api-token-for-telegram-1", "--zone", "example.com")
        env_file = os.path.join(api.dir, "tunnels.env")
        a = self.tg_agent(extra="""
[cloudflare]
api_base = %s/client/v4
zone = example.com
env_file = %s
request_timeout_s = 2
""" % (api.base, env_file), env={"CLOUDFLARE_API_TOKEN": "cf-api-token-for-telegram-1"})
        msg = self.reply_to("/tunnel provision drone-7", 0)
        self.assertIn("provisioned drone-7 https://drone-7.example.com tunnel=", msg["text"])
        self.say("/tunnel start drone-7")
        msgs = self.sent(3)
        self.assertIn("drone-7 https://drone-7.example.com", msgs[2]["text"])
        self.assertEqual(a.json("status drone-7")["tunnel"]["kind"], "named")
        a.ok("stop drone-7")

    def test_botname_suffix(self):
        self.tg_agent()
        msg = self.reply_to("/tunnel@tether_test_bot list", 0)
        self.assertIn("0 tunnels", msg["text"])
        self.say("/tunnel@some_other_bot list")
        self.say("/tunnels list")  # not our command at all
        msg = self.reply_to("/tunnel@tether_test_bot help", 1)
        self.assertIn("/tunnel commands", msg["text"])
        self.assertEqual(len(self.tg.admin("sent")["sent"]), 2)

    def test_html_escaping_of_odd_output(self):
        a = self.tg_agent()
        a.knobs(8080, crash_after_ms=20, url_delay_ms=5000, crash_message="<b>bad</b> & <i>worse")
        a.request("start 8080 nowait")
        wait_until(lambda: "worse" in a.json("status 8080")["tunnel"].get("last_error", ""), what="the error")
        msg = self.reply_to("/tunnel status 8080", 0)
        self.assertIn("last error: <b>bad</b> & <i>worse", msg["text"])
        self.assertIn("&lt;b&gt;bad&lt;/b&gt; &amp; &lt;i&gt;worse", msg["raw_text"])
        a.ok("stop 8080")

    def test_long_lists_are_split(self):
        a = self.tg_agent()
        for port in range(9000, 9060):
            a.request("start %d nowait" % port)
        wait_until(lambda: all(t["url"] for t in a.json("list")["tunnels"]), timeout=30, what="60 URLs")
        self.say("/tunnel list")
        parts = self.sent(2)
        listed = set()
        for p in parts:
            self.assertLessEqual(len(p["text"]), 4096)
            self.assertTrue(p["text"].startswith("60 tunnels"), p["text"][:40])
            listed |= set(re.findall(r"^(9\d{3}) ", p["text"], re.M))
        self.assertEqual(len(listed), 60)
        self.assertEqual(a.request("killall", timeout=60)[1], "OK stopped 60 tunnels")


class Access(TelegramTest):
    def test_unauthorised_chat_and_user_get_nothing(self):
        a = self.tg_agent()
        self.say("/tunnel start 8080", chat=-1009876543210)           # chat not allowed
        self.say("/tunnel start 8081", user=666)               # user not allowed
        self.say("/tunnel start 8082", chat=-1009876543210, user=666)
        msg = self.reply_to("/tunnel list", 0, chat=PRIVATE)   # processed after them
        self.assertIn("0 tunnels", msg["text"])
        self.assertEqual(len(self.tg.admin("sent")["sent"]), 1)
        self.assertEqual(a.json("list")["tunnels"], [])
        fam = promparse.parse("\n".join(a.request("metrics")[0]) + "\n")
        self.assertEqual(fam["tether_telegram_ignored_messages_total"]["samples"][()], 3)

    def test_a_bot_anyone_could_command_is_refused_at_start(self):
        a = self.agent("[telegram]\nbot_token_env = TETHER_BOT\nallowed_chat_ids = 1\n", start=False)
        a.start(wait=False)
        self.assertEqual(a.wait(), 2)
        self.assertIn("missing required key 'allowed_user_ids'", a.log())

    def test_token_never_shown(self):
        a = self.tg_agent()
        self.reply_to("/tunnel list", 0)
        self.tg.admin("inject", {"method": "getUpdates", "times": 1, "status": 401, "description": "Unauthorized"})
        wait_until(lambda: "getUpdates failed (HTTP 401" in a.log(), what="the failure logged")
        self.assertNotIn(BOT, a.log())
        self.assertNotIn(BOT, self.tg.log())
        self.assertNotIn(BOT, "\n".join(a.request("metrics")[0]))


class Polling(TelegramTest):
    def test_idle_agent_makes_one_getupdates_per_timeout_and_nothing_else(self):
        a = self.tg_agent(poll=1)
        started = time.monotonic()
        wait_until(lambda: len(self.tg.admin("polls")["polls"]) >= 5, what="5 polls")
        elapsed = time.monotonic() - started
        methods = [r["method"] for r in self.tg.admin("requests")["requests"]]
        self.assertEqual(set(methods), {"getMe", "getUpdates"})
        self.assertEqual(methods.count("getMe"), 1)
        polls = self.tg.admin("polls")["polls"]
        for p in polls:
            self.assertEqual((p["timeout"], p["allowed_updates"]), (1, ["message"]))
        self.assertGreaterEqual(elapsed, 3.5)  # 4 full 1 s waits between the first 5 polls
        self.assertEqual(a.request("ping")[1], "OK pong")

    def test_offset_progression_and_no_update_twice(self):
        a = self.tg_agent(poll=1)
        for i in range(3):
            self.say("/tunnel list")
        self.sent(3)
        polls = self.tg.admin("polls")["polls"]
        offsets = [p["offset"] for p in polls if p["offset"] is not None]
        self.assertEqual(offsets, sorted(offsets))
        delivered = [u for p in polls for u in p["update_ids"]]
        self.assertEqual(len(delivered), len(set(delivered)))
        self.assertEqual(len(a.json("list")["tunnels"]), 0)

    def test_429_with_retry_after(self):
        a = self.tg_agent(poll=1)
        self.tg.admin("inject", {"method": "getUpdates", "times": 1, "retry_after": 2})
        wait_until(lambda: "getUpdates failed (HTTP 429" in a.log(), what="the 429")
        t429 = time.monotonic()
        self.assertIn("polling again in 2.0s", a.log())
        n = len(self.tg.admin("polls")["polls"])
        wait_until(lambda: len(self.tg.admin("polls")["polls"]) > n, what="polling to resume")
        self.assertGreaterEqual(time.monotonic() - t429, 1.5)

    def test_api_down_then_back(self):
        a = self.tg_agent(poll=1)
        self.reply_to("/tunnel list", 0)
        self.tg.admin("down", {"down": True, "mode": "close"})
        wait_until(lambda: "getUpdates failed" in a.log(), what="a failed poll")
        self.say("/tunnel list")
        self.say("/tunnel help")
        self.tg.admin("down", {"down": False})
        msgs = self.sent(3, timeout=60)
        self.assertIn("0 tunnels", msgs[1]["text"])
        self.assertIn("/tunnel commands", msgs[2]["text"])
        wait_until(lambda: "getUpdates works again" in a.log(), what="recovery logged")
        self.reply_to("/tunnel list", 3)
        self.assertEqual(len(self.tg.admin("sent")["sent"]), 4)  # nothing processed twice


class Notices(TelegramTest):
    def crash_notice_count(self):
        return [m for m in self.tg.admin("sent")["sent"] if "crashed" in m["text"]]

    def test_crash_notice_reaches_the_starting_chat_also_after_restart(self):
        a = self.tg_agent()
        self.say("/tunnel start 8080", thread=THREAD)
        self.sent(2)
        os.kill(a.json("status 8080")["tunnel"]["pid"], signal.SIGKILL)
        notice = wait_until(lambda: self.crash_notice_count(), what="a crash notice")[0]
        self.assertEqual((notice["chat_id"], notice["message_thread_id"]), (GROUP, THREAD))
        self.assertIn("tunnel 8080", notice["text"])
        self.assertIn("killed by SIGKILL", notice["text"])
        url_notice = wait_until(lambda: [m for m in self.tg.admin("sent")["sent"] if "new URL" in m["text"]],
                                what="the new URL notice")[0]
        self.assertEqual(url_notice["message_thread_id"], THREAD)
        # Socket-started tunnels send no chat notices.
        a.ok("start 9090")
        os.kill(a.json("status 9090")["tunnel"]["pid"], signal.SIGKILL)
        wait_until(lambda: a.json("status 9090")["tunnel"]["restarts"] == 1, what="9090 respawned")
        self.assertEqual(len(self.crash_notice_count()), 1)
        # The agent restarts; the chat is remembered in the state file.
        self.assertEqual(a.stop(), 0)
        b = self.tg_agent(directory=a.dir, marker=a.marker)
        wait_until(lambda: b.json("status 8080")["tunnel"]["state"] == "running", what="8080 restored")
        os.kill(b.json("status 8080")["tunnel"]["pid"], signal.SIGKILL)
        notices = wait_until(lambda: (lambda n: n if len(n) >= 2 else None)(self.crash_notice_count()),
                             what="a crash notice after the restart")
        self.assertEqual((notices[1]["chat_id"], notices[1]["message_thread_id"]), (GROUP, THREAD))


def read_offset_file(agent):
    try:
        with open(os.path.join(agent.state_dir, "telegram.offset")) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


class Durability(TelegramTest):
    """Nothing runs twice: the offset and the command being carried out are
    on disk before the command runs."""

    def polls_after(self, n):
        return wait_until(lambda: self.tg.admin("polls")["polls"][n:], what="a poll after the restart")

    def test_first_poll_after_kill9_carries_the_saved_offset(self):
        a = self.tg_agent(poll=1)
        self.reply_to("/tunnel list", 0)
        update_id = [u for p in self.tg.admin("polls")["polls"] for u in p["update_ids"]][-1]
        saved = wait_until(lambda: (lambda o: o if o and not o["inflight"] else None)(read_offset_file(a)),
                           what="the offset saved with nothing in flight")
        self.assertEqual(saved["offset"], update_id + 1)
        # Until its delivery is on disk too, the reply would be sent again
        # after the restart (at least once): this test is about the update.
        wait_until(lambda: not os.path.exists(os.path.join(a.state_dir, "outbox-telegram-chat.json")),
                   what="the reply's delivery on disk")
        a.kill()
        n = len(self.tg.admin("polls")["polls"])
        b = self.tg_agent(poll=1, directory=a.dir, marker=a.marker)
        self.assertEqual(self.polls_after(n)[0]["offset"], update_id + 1)
        msg = self.reply_to("/tunnel help", 1)
        self.assertIn("/tunnel commands", msg["text"])
        self.assertEqual(len(self.tg.admin("sent")["sent"]), 2)  # the list was not answered again
        self.assertEqual(b.request("ping")[1], "OK pong")

    def test_a_command_interrupted_by_a_crash_is_reported_not_repeated(self):
        a = self.tg_agent(poll=1, watchdog="stop_grace_s = 60")
        a.knobs(8080, ignore_term=1)
        a.ok("start 8080")
        child = a.json("status 8080")["tunnel"]["pid"]
        # Telegram must not learn that the update was handled: every poll
        # after the one that delivers it fails, as if the network went away.
        self.tg.admin("inject", {"method": "getUpdates", "times": 1000, "status": 502})
        self.say("/tunnel stop 8080", thread=THREAD)
        saved = wait_until(lambda: (lambda o: o if o and o["inflight"] else None)(read_offset_file(a)),
                           what="the stop saved as in flight")
        [cmd] = saved["inflight"]
        self.assertEqual((cmd["text"], cmd["chat"], cmd["thread"]), ("/tunnel stop 8080", GROUP, THREAD))
        self.assertEqual(saved["offset"], cmd["update_id"] + 1)
        wait_until(lambda: "getUpdates failed (HTTP 502" in a.log(), what="the confirming poll to fail")
        self.assertEqual(a.json("status 8080")["tunnel"]["state"], "stopping")
        a.kill()
        self.tg.admin("faults/clear", {})
        n = len(self.tg.admin("polls")["polls"])
        b = self.tg_agent(poll=1, directory=a.dir, marker=a.marker, watchdog="stop_grace_s = 1")
        polls = self.polls_after(n)
        self.assertEqual(polls[0]["offset"], cmd["update_id"] + 1)
        msg = self.sent(1)[0]
        self.assertEqual((msg["chat_id"], msg["message_thread_id"]), (GROUP, THREAD))
        self.assertIn("/tunnel stop 8080 was interrupted by an agent restart; not repeated", msg["text"])
        wait_until(lambda: not read_offset_file(b)["inflight"], what="the in-flight command cleared")
        self.assertEqual(b.json("list")["tunnels"], [])  # the stop still holds: not restored
        wait_until(lambda: not alive(child), what="the new agent to finish the stop")
        self.reply_to("/tunnel list", 1)
        delivered = [u for p in self.tg.admin("polls")["polls"][n:] for u in p["update_ids"]]
        self.assertNotIn(cmd["update_id"], delivered)
        self.assertEqual([m for m in self.tg.admin("sent")["sent"] if "stopped 8080" in m["text"]], [])

    def test_a_corrupt_offset_file_is_set_aside(self):
        a = self.agent(start=False)
        a.put_state_file("telegram.offset", '{"version":1,"offset":12')
        b = self.tg_agent(directory=a.dir, marker=a.marker)
        self.assertSetAside(b, "Telegram offset file", "telegram.offset")
        self.assertIsNone(self.tg.admin("polls")["polls"][0]["offset"])
        self.assertIn("0 tunnels", self.reply_to("/tunnel list", 0)["text"])


if __name__ == "__main__":
    main()
