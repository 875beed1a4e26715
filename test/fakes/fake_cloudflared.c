/*
 * fake_cloudflared.c - a test double for cloudflared 2023.7.3 (Linux, C11 + POSIX, libc only).
 *
 * Installed as `cloudflared` first in PATH by the tests. It reproduces the command line, the
 * stderr log format and texts, the exit statuses, the signal behaviour and the metrics endpoints
 * of the real binary as described in docs/cloudflared.md and recorded in test/data/ (the two capture
 * logs), and lets tests steer it through FAKE_CF_* knobs (environment, optionally overridden per
 * tunnel by $FAKE_CF_KNOBS_DIR/<key>; see load_knobs()).
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o cloudflared fake_cloudflared.c
 * Style: clang-format -style='{BasedOnStyle: LLVM, IndentWidth: 4, ColumnLimit: 120, BreakBeforeBraces: Linux,
 *        AllowShortCaseLabelsOnASingleLine: true, AllowShortFunctionsOnASingleLine: All, SortIncludes: false,
 *        AllowShortBlocksOnASingleLine: Never, AllowShortIfStatementsOnASingleLine: Never, BreakStringLiterals: false}'
 *
 * Design: one thread, one poll() loop. Signals reach the loop through a self-pipe; everything
 * that happens later (URL box, registrations, edge loss, crashes, grace period, heartbeat) is an
 * entry in a small timer list keyed on CLOCK_MONOTONIC. With nothing scheduled the process
 * blocks in poll(-1) and makes no system calls, like an idle cloudflared.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define VERSION "2023.7.3"
#define MAX_SLOTS 16
#define MAX_EDGES 16
#define MAX_TIMERS 64
#define MAX_CLIENTS 8
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

/* ------------------------------------------------------------------------------------------ */
/* Log output                                                                                   */
/* ------------------------------------------------------------------------------------------ */

enum { LV_DBG, LV_INF, LV_WRN, LV_ERR, LV_FTL, LV_NONE };
static const char *const LEVEL_WORD[] = {"DBG", "INF", "WRN", "ERR", "FTL"};
static int g_min_level = LV_INF;

/* The Go runtime kills cloudflared with SIGPIPE when a write to fd 1/2 fails with EPIPE, even if
 * SIGPIPE was ignored at exec. We keep SIGPIPE ignored (so kill(2) of SIGPIPE does nothing, as in
 * Go) and re-create that death here. Other write errors are dropped silently, like zerolog. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE && (fd == 1 || fd == 2)) {
                sigset_t set;
                sigemptyset(&set);
                sigaddset(&set, SIGPIPE);
                signal(SIGPIPE, SIG_DFL);
                sigprocmask(SIG_UNBLOCK, &set, NULL);
                raise(SIGPIPE);
            }
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

static size_t fmt_timestamp(char *out, size_t cap)
{
    time_t t = time(NULL); /* vDSO: no system call */
    struct tm tm;
    gmtime_r(&t, &tm);
    return strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Writes one complete line with a single write(2) so concurrent readers never see half a line. */
static void vemit(int fd, int lvl, const char *fmt, va_list ap)
{
    char stack[1024];
    char *buf = stack;
    size_t n = 0;
    if (lvl != LV_NONE) {
        n = fmt_timestamp(stack, sizeof stack);
        n += (size_t)snprintf(stack + n, sizeof stack - n, " %s ", LEVEL_WORD[lvl]);
    }
    va_list ap2;
    va_copy(ap2, ap);
    int m = vsnprintf(stack + n, sizeof stack - n, fmt, ap);
    if (m >= 0 && (size_t)m + n + 1 >= sizeof stack) {
        buf = malloc(n + (size_t)m + 2);
        if (buf) {
            memcpy(buf, stack, n);
            vsnprintf(buf + n, (size_t)m + 1, fmt, ap2);
        } else {
            buf = stack;
            m = (int)(sizeof stack - n - 2);
        }
    }
    va_end(ap2);
    if (m < 0)
        return;
    buf[n + (size_t)m] = '\n';
    write_all(fd, buf, n + (size_t)m + 1);
    if (buf != stack)
        free(buf);
}

__attribute__((format(printf, 2, 3))) static void log_at(int lvl, const char *fmt, ...)
{
    if (lvl < g_min_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vemit(2, lvl, fmt, ap);
    va_end(ap);
}

/* A line without timestamp/level: the fatal error text cloudflared prints before exiting. */
__attribute__((format(printf, 2, 3))) static void plain(int fd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(fd, LV_NONE, fmt, ap);
    va_end(ap);
}

/* zerolog's console writer quotes a field value (Go %q) when it has a space, quote, backslash or a
 * byte outside printable ASCII; otherwise the value is written bare. */
static const char *go_quote(const char *s, char *out, size_t cap)
{
    bool need = *s == '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\')
            need = true;
    if (!need) {
        snprintf(out, cap, "%s", s);
        return out;
    }
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < cap; p++) {
        switch (*p) {
        case '"':
            out[o++] = '\\';
            out[o++] = '"';
            break;
        case '\\':
            out[o++] = '\\';
            out[o++] = '\\';
            break;
        case '\n':
            out[o++] = '\\';
            out[o++] = 'n';
            break;
        case '\t':
            out[o++] = '\\';
            out[o++] = 't';
            break;
        case '\r':
            out[o++] = '\\';
            out[o++] = 'r';
            break;
        default:
            if (*p < ' ' || *p == 0x7f)
                o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
            else
                out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Knobs                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Lines NAME=VALUE of $FAKE_CF_KNOBS_DIR/<key>; they win over the environment. */
static char *g_knob_file;
static char *g_knob_name[64], *g_knob_val[64];
static int g_knob_n;

static const char *knob(const char *name)
{
    for (int i = g_knob_n - 1; i >= 0; i--)
        if (strcmp(g_knob_name[i], name) == 0)
            return g_knob_val[i];
    return getenv(name);
}

static long long knob_int(const char *name, long long dflt)
{
    const char *v = knob(name);
    if (!v || !*v)
        return dflt;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    return (errno || *end) ? dflt : x;
}

static bool knob_on(const char *name)
{
    const char *v = knob(name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"));
}

static void load_knobs(const char *key)
{
    const char *dir = getenv("FAKE_CF_KNOBS_DIR");
    if (!dir || !*dir || !key || !*key)
        return;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, key) >= sizeof path)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf)
            break;
        if (len == cap) {
            if (cap >= 65536)
                break;
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!buf)
        return;
    buf[len] = '\0';
    g_knob_file = buf;
    for (char *line = buf; line && *line && g_knob_n < 64;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        char *eq = strchr(line, '=');
        if (*line && *line != '#' && eq && eq != line) {
            *eq = '\0';
            g_knob_name[g_knob_n] = line;
            g_knob_val[g_knob_n++] = eq + 1;
        }
        line = next;
    }
}

struct knobs {
    long long url_delay_ms;
    long long unregister_after_ms, dial_retry_ms;
    long long crash_after_ms, crash_signal, crash_status;
    const char *crash_message;
    bool no_url, ignore_term, grandchild, grandchild_ignore_term, flood, unauthorized, dial;
    const char *api_error, *spawn_log, *counter_file, *env_log;
    long long footprint_kb;
    long long crash_first, flood_lines, heartbeat_ms, retry_ms, unauth_register_ms;
};
static struct knobs K;

static void read_knobs(void)
{
    K.url_delay_ms = knob_int("FAKE_CF_URL_DELAY_MS", 0);
    K.no_url = knob_on("FAKE_CF_NO_URL");
    K.api_error = knob("FAKE_CF_API_ERROR");
    if (K.api_error && (!*K.api_error || !strcmp(K.api_error, "0")))
        K.api_error = NULL;
    K.unregister_after_ms = knob_int("FAKE_CF_UNREGISTER_AFTER_MS", -1);
    K.dial_retry_ms = knob_int("FAKE_CF_DIAL_RETRY_MS", 5000);
    K.crash_after_ms = knob_int("FAKE_CF_CRASH_AFTER_MS", -1);
    K.crash_signal = knob_int("FAKE_CF_CRASH_SIGNAL", 0);
    K.crash_message = knob("FAKE_CF_CRASH_MESSAGE");
    K.crash_status = knob_int("FAKE_CF_CRASH_STATUS", 1);
    K.counter_file = knob("FAKE_CF_COUNTER_FILE");
    K.crash_first = knob_int("FAKE_CF_CRASH_FIRST", -1);
    K.ignore_term = knob_on("FAKE_CF_IGNORE_TERM");
    K.grandchild = knob_on("FAKE_CF_GRANDCHILD");
    K.grandchild_ignore_term = knob_on("FAKE_CF_GRANDCHILD_IGNORE_TERM");
    K.flood = knob_on("FAKE_CF_FLOOD");
    K.flood_lines = knob_int("FAKE_CF_FLOOD_LINES", 0);
    K.heartbeat_ms = knob_int("FAKE_CF_HEARTBEAT_MS", 0);
    K.unauthorized = knob_on("FAKE_CF_UNAUTHORIZED");
    K.retry_ms = knob_int("FAKE_CF_RETRY_MS", 1000);
    /* With FAKE_CF_UNAUTHORIZED: the edge takes the tunnel after all, this long after the start. */
    K.unauth_register_ms = knob_int("FAKE_CF_UNAUTH_REGISTER_MS", -1);
    K.spawn_log = knob("FAKE_CF_SPAWN_LOG");
    K.env_log = knob("FAKE_CF_ENV_LOG");
    K.footprint_kb = knob_int("FAKE_CF_FOOTPRINT_KB", 0);
    K.dial = knob_on("FAKE_CF_DIAL");
    if (K.retry_ms < 1)
        K.retry_ms = 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers: randomness, UUIDs, Go durations, base64, token JSON                          */
/* ------------------------------------------------------------------------------------------ */

static uint64_t g_rng;

static uint64_t rng_next(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_seed(void)
{
    struct timespec rt, mt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mt);
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = 0;
    g_rng =
        r ^ ((uint64_t)rt.tv_sec * NS_PER_S + (uint64_t)rt.tv_nsec) ^ ((uint64_t)getpid() << 40) ^ (uint64_t)mt.tv_nsec;
}

static void new_uuid(char out[37])
{
    unsigned char b[16];
    uint64_t x = rng_next(), y = rng_next();
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Accepts the UUID forms cloudflared's uuid.Parse accepts most often (36 chars with hyphens or
 * 32 bare hex digits) and writes the canonical lowercase form. */
static bool canon_uuid(const char *s, char out[37])
{
    size_t n = strlen(s), o = 0;
    if (n != 36 && n != 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool hyphen_pos = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        if (hyphen_pos) {
            if (s[i] != '-')
                return false;
            continue;
        }
        if (!isxdigit((unsigned char)s[i]))
            return false;
        if (o == 8 || o == 13 || o == 18 || o == 23)
            out[o++] = '-';
        out[o++] = (char)tolower((unsigned char)s[i]);
    }
    out[o] = '\0';
    return o == 36;
}

/* Go's time.Duration.String(). */
static void fmt_duration(char *out, size_t cap, int64_t d)
{
    const char *sign = d < 0 ? "-" : "";
    uint64_t u = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
    if (u == 0) {
        snprintf(out, cap, "0s");
        return;
    }
    if (u < (uint64_t)NS_PER_S) {
        const char *unit = "ns";
        uint64_t div = 1;
        int digits = 0;
        if (u >= 1000000) {
            unit = "ms";
            div = 1000000;
            digits = 6;
        } else if (u >= 1000) {
            unit = "\xc2\xb5s";
            div = 1000;
            digits = 3;
        }
        char frac[16] = "";
        uint64_t f = u % div;
        if (f) {
            snprintf(frac, sizeof frac, ".%0*llu", digits, (unsigned long long)f);
            for (size_t l = strlen(frac); l > 1 && frac[l - 1] == '0'; l--)
                frac[l - 1] = '\0';
        }
        snprintf(out, cap, "%s%llu%s%s", sign, (unsigned long long)(u / div), frac, unit);
        return;
    }
    uint64_t secs = u / NS_PER_S, f = u % NS_PER_S;
    char frac[16] = "";
    if (f) {
        snprintf(frac, sizeof frac, ".%09llu", (unsigned long long)f);
        for (size_t l = strlen(frac); l > 1 && frac[l - 1] == '0'; l--)
            frac[l - 1] = '\0';
    }
    unsigned long long h = secs / 3600, m = (secs / 60) % 60, s = secs % 60;
    if (h)
        snprintf(out, cap, "%s%lluh%llum%llu%ss", sign, h, m, s, frac);
    else if (m)
        snprintf(out, cap, "%s%llum%llu%ss", sign, m, s, frac);
    else
        snprintf(out, cap, "%s%llu%ss", sign, s, frac);
}

/* Go's time.ParseDuration, without overflow niceties. */
static bool parse_duration(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (!strcmp(s, "0")) {
        *out = 0;
        return true;
    }
    if (!*s)
        return false;
    long double total = 0;
    while (*s) {
        if (!isdigit((unsigned char)*s) && *s != '.')
            return false;
        char *end;
        long double v = strtold(s, &end);
        if (end == s || (end == s + 1 && *s == '.'))
            return false;
        s = end;
        static const struct {
            const char *u;
            int64_t ns;
        } units[] = {{"ns", 1},         {"us", 1000},    {"\xc2\xb5s", 1000},  {"\xce\xbcs", 1000},
                     {"ms", NS_PER_MS}, {"s", NS_PER_S}, {"m", 60 * NS_PER_S}, {"h", 3600 * NS_PER_S}};
        size_t ul = 0;
        while (s[ul] && !isdigit((unsigned char)s[ul]) && s[ul] != '.')
            ul++;
        bool found = false;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].u) == ul && !strncmp(s, units[i].u, ul)) {
                total += v * (long double)units[i].ns;
                found = true;
            }
        if (!found)
            return false;
        s += ul;
    }
    if (total > 9.2e18L)
        return false;
    *out = (int64_t)(neg ? -total : total);
    return true;
}

/* Go's base64.StdEncoding.DecodeString: padded standard alphabet; \r and \n are skipped. */
static unsigned char *b64_decode(const char *in, size_t *outlen)
{
    size_t n = strlen(in), k = 0;
    char *clean = malloc(n + 1);
    if (!clean)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (in[i] != '\r' && in[i] != '\n')
            clean[k++] = in[i];
    unsigned char *out = malloc(k / 4 * 3 + 1);
    size_t o = 0;
    bool ok = out && k % 4 == 0;
    for (size_t i = 0; ok && i < k; i += 4) {
        int v[4] = {0}, pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = clean[i + j];
            const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            const char *p = c ? strchr(alpha, c) : NULL;
            if (c == '=' && i + 4 == k && j >= 2 && (j == 3 || clean[i + 3] == '=')) {
                v[j] = 0;
                pad++;
            } else if (p && !pad) {
                v[j] = (int)(p - alpha);
            } else {
                ok = false;
            }
        }
        if (!ok)
            break;
        unsigned int w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    free(clean);
    if (!ok) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* Minimal JSON reader for the token object {"a":"..","t":"..","s":".."}. */
struct jp {
    const char *p, *end;
};

static void j_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool j_str(struct jp *j, char *out, size_t cap)
{
    size_t o = 0;
    if (j->p >= j->end || *j->p != '"')
        return false;
    for (j->p++; j->p < j->end; j->p++) {
        char c = *j->p;
        if (c == '"') {
            j->p++;
            if (out)
                out[o] = '\0';
            return true;
        }
        if ((unsigned char)c < 0x20)
            return false;
        if (c == '\\') {
            if (++j->p >= j->end)
                return false;
            c = *j->p;
            if (c == 'u') {
                if (j->end - j->p < 5)
                    return false;
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)j->p[i]))
                        return false;
                j->p += 4;
                c = '?';
            } else if (!strchr("\"\\/bfnrt", c)) {
                return false;
            }
        }
        if (out && o + 1 < cap)
            out[o++] = c;
    }
    return false;
}

static bool j_skip(struct jp *j, int depth)
{
    j_ws(j);
    if (j->p >= j->end || depth > 32)
        return false;
    char c = *j->p;
    if (c == '"')
        return j_str(j, NULL, 0);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        j_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                j_ws(j);
                if (!j_str(j, NULL, 0))
                    return false;
                j_ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                    return false;
            }
            if (!j_skip(j, depth + 1))
                return false;
            j_ws(j);
            if (j->p >= j->end)
                return false;
            if (*j->p == close) {
                j->p++;
                return true;
            }
            if (*j->p++ != ',')
                return false;
        }
    }
    const char *start = j->p;
    while (j->p < j->end && (isalnum((unsigned char)*j->p) || strchr("+-.", *j->p)))
        j->p++;
    size_t n = (size_t)(j->p - start);
    if (n == 0)
        return false;
    if ((n == 4 && !strncmp(start, "true", 4)) || (n == 5 && !strncmp(start, "false", 5)) ||
        (n == 4 && !strncmp(start, "null", 4)))
        return true;
    char tmp[64];
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    char *e;
    strtod(tmp, &e);
    return *e == '\0';
}

/* Decodes a tunnel token the way cloudflared 2023.7.3 does; fills tunnel_id with the "t" UUID. */
static bool parse_token(const char *tok, char tunnel_id[37])
{
    size_t len;
    unsigned char *json = b64_decode(tok, &len);
    if (!json)
        return false;
    struct jp j = {(const char *)json, (const char *)json + len};
    char a[256], t[128], s[1024];
    bool ha = false, ht = false, hs = false, ok = false;
    j_ws(&j);
    if (j.p < j.end && *j.p == '{') {
        j.p++;
        j_ws(&j);
        bool empty = j.p < j.end && *j.p == '}';
        if (empty)
            j.p++;
        while (!empty) {
            char key[64];
            j_ws(&j);
            if (!j_str(&j, key, sizeof key))
                break;
            j_ws(&j);
            if (j.p >= j.end || *j.p++ != ':')
                break;
            j_ws(&j);
            bool good;
            if (!strcmp(key, "a"))
                good = ha = j_str(&j, a, sizeof a);
            else if (!strcmp(key, "t"))
                good = ht = j_str(&j, t, sizeof t);
            else if (!strcmp(key, "s"))
                good = hs = j_str(&j, s, sizeof s);
            else
                good = j_skip(&j, 0);
            if (!good)
                break;
            j_ws(&j);
            if (j.p < j.end && *j.p == '}') {
                j.p++;
                j_ws(&j);
                ok = j.p == j.end;
                break;
            }
            if (j.p >= j.end || *j.p++ != ',')
                break;
        }
    }
    free(json);
    if (!ok || !ha || !ht || !hs || !canon_uuid(t, tunnel_id))
        return false;
    /* "s" is []byte in Go, so it must itself be valid base64. */
    unsigned char *secret = b64_decode(s, &len);
    if (!secret)
        return false;
    free(secret);
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Command line (urfave/cli v2 over Go's flag package)                                          */
/* ------------------------------------------------------------------------------------------ */

enum ftype { F_BOOL, F_STR, F_INT, F_DUR, F_SLICE };
enum { AT_TUNNEL = 1, AT_RUN = 2 };

/* Sorted by name: Settings: map[...] is printed in this order (Go sorts map keys). */
static const struct flagdef {
    const char *name;
    enum ftype type;
    int where;
} FLAGS[] = {
    {"cacert", F_STR, AT_TUNNEL},
    {"config", F_STR, AT_TUNNEL},
    {"edge", F_SLICE, AT_TUNNEL},
    {"edge-ip-version", F_STR, AT_TUNNEL},
    {"grace-period", F_DUR, AT_TUNNEL},
    {"ha-connections", F_INT, AT_TUNNEL},
    {"hello-world", F_BOOL, AT_TUNNEL},
    {"label", F_STR, AT_TUNNEL},
    {"logfile", F_STR, AT_TUNNEL},
    {"loglevel", F_STR, AT_TUNNEL},
    {"metrics", F_STR, AT_TUNNEL},
    {"no-autoupdate", F_BOOL, AT_TUNNEL},
    {"p", F_STR, AT_TUNNEL | AT_RUN},
    {"pidfile", F_STR, AT_TUNNEL},
    {"protocol", F_STR, AT_TUNNEL | AT_RUN},
    {"quick-service", F_STR, AT_TUNNEL},
    {"region", F_STR, AT_TUNNEL},
    {"retries", F_INT, AT_TUNNEL},
    {"token", F_STR, AT_RUN},
    {"url", F_STR, AT_TUNNEL | AT_RUN},
};
#define NFLAGS ((int)(sizeof FLAGS / sizeof FLAGS[0]))
/* Indices into FLAGS; keep in the same order. */
enum {
    FI_CACERT,
    FI_CONFIG,
    FI_EDGE,
    FI_EDGE_IP,
    FI_GRACE,
    FI_HA,
    FI_HELLO,
    FI_LABEL,
    FI_LOGFILE,
    FI_LOGLEVEL,
    FI_METRICS,
    FI_NOAUTO,
    FI_P,
    FI_PIDFILE,
    FI_PROTOCOL,
    FI_QUICK_SERVICE,
    FI_REGION,
    FI_RETRIES,
    FI_TOKEN,
    FI_URL
};

enum mode {
    M_VERSION,
    M_HELP,
    M_USAGE,
    M_QUICK,
    M_NAMED,
    M_NO_TUNNEL_ARG,
    M_RUN_NO_TOKEN,
    M_RUN_BAD_TOKEN,
    M_RUN_TOO_MANY_ARGS,
    M_UNSUPPORTED
};

struct opts {
    enum mode mode;
    int usage_where;     /* AT_TUNNEL or AT_RUN: which help text and which error prefix */
    char usage_err[320]; /* Go flag package error text */
    bool set[NFLAGS];
    const char *val[NFLAGS];
    char canon[NFLAGS][40]; /* canonical text of typed values (int, duration, bool) */
    const char *edges[MAX_EDGES];
    int n_edges;
    int64_t grace_ns;
    long ha, retries;
    const char *token; /* from --token or TUNNEL_TOKEN */
    char tunnel_id[37];
    char key[64]; /* knob file name */
};
static struct opts O;

static int find_flag(const char *name, size_t len, int where)
{
    for (int i = 0; i < NFLAGS; i++)
        if (strlen(FLAGS[i].name) == len && !strncmp(FLAGS[i].name, name, len) && (FLAGS[i].where & where))
            return i;
    return -1;
}

static bool set_flag(int fi, const char *value)
{
    const char *name = FLAGS[fi].name;
    switch (FLAGS[fi].type) {
    case F_BOOL: {
        static const char *const T[] = {"1", "t", "T", "true", "TRUE", "True"};
        static const char *const F[] = {"0", "f", "F", "false", "FALSE", "False"};
        int b = -1;
        for (int i = 0; i < 6; i++) {
            if (!strcmp(value, T[i]))
                b = 1;
            if (!strcmp(value, F[i]))
                b = 0;
        }
        if (b < 0) {
            snprintf(O.usage_err, sizeof O.usage_err, "invalid boolean value \"%s\" for -%s: parse error", value, name);
            return false;
        }
        snprintf(O.canon[fi], sizeof O.canon[fi], "%s", b ? "true" : "false");
        O.val[fi] = O.canon[fi];
        break;
    }
    case F_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 0);
        if (!*value || *end || errno) {
            snprintf(O.usage_err, sizeof O.usage_err, "invalid value \"%s\" for flag -%s: parse error", value, name);
            return false;
        }
        snprintf(O.canon[fi], sizeof O.canon[fi], "%ld", v);
        O.val[fi] = O.canon[fi];
        if (fi == FI_HA)
            O.ha = v;
        else
            O.retries = v;
        break;
    }
    case F_DUR: {
        int64_t d;
        if (!parse_duration(value, &d)) {
            snprintf(O.usage_err, sizeof O.usage_err, "invalid value \"%s\" for flag -%s: parse error", value, name);
            return false;
        }
        fmt_duration(O.canon[fi], sizeof O.canon[fi], d);
        O.val[fi] = O.canon[fi];
        O.grace_ns = d;
        break;
    }
    case F_SLICE:
        if (O.n_edges < MAX_EDGES)
            O.edges[O.n_edges++] = value;
        break;
    case F_STR: O.val[fi] = value; break;
    }
    O.set[fi] = true;
    if (fi == FI_P || fi == FI_PROTOCOL) { /* urfave copies a flag's value to all its names */
        O.set[FI_P] = O.set[FI_PROTOCOL] = true;
        O.val[FI_P] = O.val[FI_PROTOCOL] = value;
    }
    return true;
}

/* Go's flag.FlagSet.Parse for one command level: stops at the first non-flag argument. Returns
 * the index of that argument, or -1 after a usage error / help request (O.mode set). */
static int parse_level(char **av, int ac, int i, int where)
{
    while (i < ac) {
        const char *a = av[i];
        if (a[0] != '-' || a[1] == '\0')
            return i;
        const char *name = a + 1;
        if (*name == '-') {
            name++;
            if (*name == '\0')
                return i + 1; /* "--" ends the flags */
        }
        i++;
        if (*name == '-' || *name == '=') {
            snprintf(O.usage_err, sizeof O.usage_err, "bad flag syntax: %s", a);
            O.mode = M_USAGE;
            O.usage_where = where;
            return -1;
        }
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int fi = find_flag(name, nlen, where);
        if (fi < 0) {
            if ((nlen == 4 && !strncmp(name, "help", 4)) || (nlen == 1 && name[0] == 'h')) {
                O.mode = M_HELP;
                O.usage_where = where;
                return -1;
            }
            snprintf(O.usage_err, sizeof O.usage_err, "flag provided but not defined: -%.*s", (int)nlen, name);
            O.mode = M_USAGE;
            O.usage_where = where;
            return -1;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (FLAGS[fi].type == F_BOOL)
            value = "true";
        else if (i < ac)
            value = av[i++];
        else {
            snprintf(O.usage_err, sizeof O.usage_err, "flag needs an argument: -%.*s", (int)nlen, name);
            O.mode = M_USAGE;
            O.usage_where = where;
            return -1;
        }
        if (!set_flag(fi, value)) {
            O.mode = M_USAGE;
            O.usage_where = where;
            return -1;
        }
    }
    return i;
}

/* The knob file key of a quick tunnel: the port of --url ("http://localhost:8080/x" -> "8080"). */
static void url_port_key(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t auth = strcspn(p, "/?#");
    const char *colon = NULL;
    for (size_t i = 0; i < auth; i++)
        if (p[i] == ':')
            colon = p + i;
    out[0] = '\0';
    if (!colon || colon + 1 == p + auth || (size_t)(p + auth - colon) > cap)
        return;
    for (const char *c = colon + 1; c < p + auth; c++)
        if (!isdigit((unsigned char)*c))
            return;
    snprintf(out, cap, "%.*s", (int)(p + auth - colon - 1), colon + 1);
}

/* The `tunnel:` line of a cloudflared config.yml (a UUID, or a name kept as it is). */
static bool config_tunnel(const char *path, char out[37])
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "tunnel:", 7) != 0)
            continue;
        char *v = line + 7;
        v += strspn(v, " ");
        v[strcspn(v, " #\r\n")] = '\0';
        size_t n = strlen(v);
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
            v[n - 1] = '\0';
            v++;
        }
        found = *v && (canon_uuid(v, out) || snprintf(out, 37, "%s", v) > 0);
    }
    fclose(f);
    return found;
}

static void parse_cmdline(int ac, char **av)
{
    O.ha = 4;
    O.retries = 5;
    O.grace_ns = 30 * NS_PER_S;
    O.val[FI_QUICK_SERVICE] = "https://api.trycloudflare.com";
    if (ac >= 2 && (!strcmp(av[1], "--version") || !strcmp(av[1], "-v") || !strcmp(av[1], "version") ||
                    !strcmp(av[1], "-version"))) {
        O.mode = M_VERSION;
        return;
    }
    if (ac < 2 || strcmp(av[1], "tunnel") != 0) {
        O.mode = M_UNSUPPORTED;
        return;
    }
    int i = parse_level(av, ac, 2, AT_TUNNEL);
    if (i < 0)
        return;
    bool run = i < ac && !strcmp(av[i], "run");
    if (run) {
        i = parse_level(av, ac, i + 1, AT_RUN);
        if (i < 0)
            return;
        int nargs = ac - i;
        if (nargs > 1) {
            O.mode = M_RUN_TOO_MANY_ARGS;
            return;
        }
        /* An environment variable only fills a flag that is absent from argv. */
        const char *env = getenv("TUNNEL_TOKEN");
        O.token = O.set[FI_TOKEN] ? O.val[FI_TOKEN] : env;
        /* A locally managed tunnel: no token, the tunnel named by the --config file. */
        if ((!O.token || !*O.token) && O.set[FI_CONFIG] && config_tunnel(O.val[FI_CONFIG], O.tunnel_id)) {
            O.mode = M_NAMED;
            snprintf(O.key, sizeof O.key, "%s", O.tunnel_id);
            return;
        }
        if (!O.token || !*O.token) {
            O.mode = M_RUN_NO_TOKEN;
            return;
        }
        if (!parse_token(O.token, O.tunnel_id)) {
            O.mode = M_RUN_BAD_TOKEN;
            return;
        }
        O.mode = M_NAMED;
        snprintf(O.key, sizeof O.key, "%s", O.tunnel_id);
        return;
    }
    /* Any other positional argument falls through to the tunnel command's own action. */
    if ((O.set[FI_URL] || O.set[FI_HELLO]) && *O.val[FI_QUICK_SERVICE]) {
        O.mode = M_QUICK;
        if (O.set[FI_URL])
            url_port_key(O.val[FI_URL], O.key, sizeof O.key);
        return;
    }
    O.mode = M_NO_TUNNEL_ARG;
}

static void print_help(bool incorrect)
{
    if (O.usage_where == AT_RUN) {
        if (incorrect)
            plain(1, "Incorrect Usage: %s\n", O.usage_err);
        plain(1, "NAME:\n\tcloudflared tunnel run - Proxy a local web server by running the given tunnel\n\n"
                 "USAGE:\n\tcloudflared tunnel [tunnel command options] run [subcommand options] [TUNNEL]\n\n"
                 "DESCRIPTION:\n\tRuns the tunnel identified by name or UUID, creating highly available "
                 "connections\n  between your server and the Cloudflare edge. You can provide name or UUID of "
                 "tunnel to run either as the\n  last command line argument or in the configuration file using "
                 "\"tunnel: TUNNEL\".\n");
    } else {
        /* urfave/cli's App (tunnel has subcommands) writes "Incorrect Usage." with a period. */
        if (incorrect)
            plain(1, "Incorrect Usage. %s\n", O.usage_err);
        plain(1, "NAME:\n   cloudflared tunnel - Use Cloudflare Tunnel to expose private services to the "
                 "Internet or to Cloudflare connected private users.\n\n"
                 "USAGE:\n   cloudflared tunnel command [command options]  \n");
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Runtime state                                                                                */
/* ------------------------------------------------------------------------------------------ */

enum slot_state { SL_IDLE, SL_UP, SL_LOST };
struct slot {
    enum slot_state st;
    char conn[37];
};

enum ev {
    EV_URL_BOX,
    EV_CRASH,
    EV_REGISTER,
    EV_LOSE,
    EV_DIAL_RETRY,
    EV_UNAUTH,
    EV_HEARTBEAT,
    EV_SHUTDOWN_DONE
};
struct timer {
    bool used;
    enum ev kind;
    int arg;
    int64_t due;
};

struct client {
    int fd;
    int64_t deadline;
    unsigned len;
    char buf[512];
};

static struct {
    int64_t t0;
    int sigpipe[2];
    struct sigaction sigint_at_exec;
    bool shutting_down, ever_registered, lost_once;
    int nslots, n_initial_up, unauth_attempt;
    struct slot slot[MAX_SLOTS];
    struct timer timers[MAX_TIMERS];
    char connector_id[37];
    char host[256];
    int listen_fd;
    struct client cl[MAX_CLIENTS];
    long long flood_left; /* -1 = forever */
    bool flood_on;
} S = {.listen_fd = -1, .sigpipe = {-1, -1}};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO */
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void timer_add(enum ev kind, int arg, int64_t due)
{
    for (int i = 0; i < MAX_TIMERS; i++)
        if (!S.timers[i].used) {
            S.timers[i] = (struct timer){true, kind, arg, due};
            return;
        }
}

static void timer_cancel(enum ev kind)
{
    for (int i = 0; i < MAX_TIMERS; i++)
        if (S.timers[i].used && S.timers[i].kind == kind)
            S.timers[i].used = false;
}

static int count_up(void)
{
    int n = 0;
    for (int i = 0; i < S.nslots; i++)
        n += S.slot[i].st == SL_UP;
    return n;
}

/* Real edge addresses when no --edge is given; with --edge the slot uses that host, as the real
 * one reports the address it dialled. */
static const char *slot_ip(int i)
{
    static const char *const DEFAULT_IPS[] = {"198.41.200.13", "198.41.192.7", "198.41.200.53", "198.41.192.107"};
    static char buf[MAX_EDGES][64];
    if (O.n_edges == 0)
        return DEFAULT_IPS[i % 4];
    int e = i % O.n_edges;
    const char *a = O.edges[e];
    const char *colon = strrchr(a, ':');
    size_t n = colon ? (size_t)(colon - a) : strlen(a);
    if (n >= 2 && a[0] == '[' && a[n - 1] == ']') {
        a++;
        n -= 2;
    }
    snprintf(buf[e], sizeof buf[e], "%.*s", (int)n, a);
    return buf[e];
}

/* Connection errors are ERR when no other connection is up, WRN otherwise. */
static int conn_err_level(void) { return count_up() > 0 ? LV_WRN : LV_ERR; }

static bool is_quick(void) { return O.mode == M_QUICK; }

static const char *proto_word(void)
{
    return O.set[FI_PROTOCOL] && !strcmp(O.val[FI_PROTOCOL], "http2") ? "http2" : "quic";
}

/* ------------------------------------------------------------------------------------------ */
/* Output blocks (texts verbatim from the 2023.7.3 captures)                                    */
/* ------------------------------------------------------------------------------------------ */

static const char DIAL_TIMEOUT[] = "Failed to create new quic connection error=\"failed to dial to edge with quic: "
                                   "timeout: no recent network activity\" connIndex=%d event=0 ip=%s";

static void log_disclaimer(void)
{
    log_at(LV_INF, "Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare account, is a quick way to "
                   "experiment and try it out. However, be aware that these account-less Tunnels have no uptime "
                   "guarantee. If you intend to use Tunnels in production you should use a pre-created named tunnel "
                   "by following: https://developers.cloudflare.com/cloudflare-one/connections/connect-apps");
    log_at(LV_INF, "Requesting new quick Tunnel on trycloudflare.com...");
}

/* cloudflared's AsciiBox(lines, 2): as wide as the longest line plus two spaces each side. */
static void log_url_box(void)
{
    static const char title[] =
        "Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):";
    char url[300];
    snprintf(url, sizeof url, "%s%s", strncmp(S.host, "https://", 8) ? "https://" : "", S.host);
    int w = (int)strlen(title);
    if ((int)strlen(url) > w)
        w = (int)strlen(url);
    char border[400];
    border[0] = '+';
    memset(border + 1, '-', (size_t)w + 4);
    border[w + 5] = '+';
    border[w + 6] = '\0';
    log_at(LV_INF, "%s", border);
    log_at(LV_INF, "|  %-*s  |", w, title);
    log_at(LV_INF, "|  %-*s  |", w, url);
    log_at(LV_INF, "%s", border);
}

static void log_settings(void)
{
    char line[4096];
    size_t n = 0;
    bool any = false;
    for (int i = 0; i < NFLAGS && n < sizeof line - 64; i++) {
        if (!O.set[i])
            continue;
        const char *v = O.val[i];
        char edges[1024];
        if (i == FI_TOKEN) {
            v = "*****";
        } else if (i == FI_EDGE) {
            size_t e = 0;
            edges[e++] = '[';
            for (int k = 0; k < O.n_edges && e < sizeof edges - 2; k++)
                e += (size_t)snprintf(edges + e, sizeof edges - e, "%s%s", k ? " " : "", O.edges[k]);
            if (e > sizeof edges - 2)
                e = sizeof edges - 2;
            edges[e++] = ']';
            edges[e] = '\0';
            v = edges;
        }
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s:%s", any ? " " : "", FLAGS[i].name, v);
        any = true;
    }
    if (n >= sizeof line)
        n = sizeof line - 1;
    if (any)
        log_at(LV_INF, "Settings: map[%.*s]", (int)n, line);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every environment entry containing TUNNEL_ with exactly one '=' (so padded tokens are skipped);
 * the token variables are masked. Secrets are also masked if they equal the token in use. */
static void log_environment(void)
{
    extern char **environ;
    size_t cnt = 0, n = 0;
    for (char **e = environ; *e; e++)
        cnt++;
    char **pick = malloc((cnt + 1) * sizeof *pick);
    if (!pick)
        return;
    cnt = 0;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strstr(*e, "TUNNEL_") && eq && !strchr(eq + 1, '='))
            pick[cnt++] = *e;
    }
    if (cnt == 0) {
        free(pick);
        return;
    }
    qsort(pick, cnt, sizeof *pick, cmp_str);
    char line[4096];
    for (size_t i = 0; i < cnt && n < sizeof line - 64; i++) {
        const char *eq = strchr(pick[i], '=');
        int klen = (int)(eq - pick[i]);
        bool secret = (klen == 12 && !strncmp(pick[i], "TUNNEL_TOKEN", 12)) ||
                      (klen == 20 && !strncmp(pick[i], "TUNNEL_CRED_CONTENTS", 20)) ||
                      (O.token && !strcmp(eq + 1, O.token));
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%.*s:%s", i ? " " : "", klen, pick[i],
                              secret ? "*****" : eq + 1);
    }
    if (n >= sizeof line)
        n = sizeof line - 1;
    free(pick);
    log_at(LV_INF, "Environmental variables map[%.*s]", (int)n, line);
}

static void log_icmp(void)
{
    log_at(LV_INF, "ICMP proxy will use 0.0.0.0 as source for IPv4");
    log_at(LV_INF, "ICMP proxy will use ::1 in zone lo as source for IPv6");
    log_at(LV_WRN, "The user running cloudflared process has a GID (group ID) that is not within ping_group_range. "
                   "You might need to add that user to a group within that range, or instead update the range to "
                   "encompass a group the user is already in by modifying /proc/sys/net/ipv4/ping_group_range. "
                   "Otherwise cloudflared will not be able to ping this network error=\"Group ID 0 is not between "
                   "ping group 65534 to 0\"");
    log_at(LV_WRN, "ICMP proxy feature is disabled error=\"cannot create ICMPv4 proxy: Group ID 0 is not between "
                   "ping group 65534 to 0 nor ICMPv6 proxy: socket: permission denied\"");
}

/* "Couldn't start tunnel": the ERR record, then the plain error line, exit 1. */
static void fail_start(const char *msg)
{
    char q[1024];
    log_at(LV_ERR, "Couldn't start tunnel error=%s", go_quote(msg, q, sizeof q));
    plain(2, "%s", msg);
    exit(1);
}

static void log_sigquit_dump(void)
{
    plain(2, "SIGQUIT: quit\nPC=0x46b6a1 m=0 sigcode=0\n\n"
             "goroutine 1 [select]:\n"
             "github.com/cloudflare/cloudflared/cmd/cloudflared/tunnel.waitToShutdown(0xc0004a2fd0, "
             "0xc000528ad0, 0xc0000b8300, 0xc0000b8240, 0x6fc23ac00, 0xc0000f4460)\n"
             "\t/cfsetup_build/cmd/cloudflared/tunnel/cmd.go:480 +0x1d9\n"
             "github.com/cloudflare/cloudflared/cmd/cloudflared/tunnel.StartServer(0xc0000c5a40, "
             "0xc0001b8fc0, 0xc000142780, 0xc0000f4460)\n"
             "\t/cfsetup_build/cmd/cloudflared/tunnel/cmd.go:469 +0x12ec\n"
             "main.main()\n\t/cfsetup_build/cmd/cloudflared/main.go:90 +0x7f7\n\n"
             "goroutine 6 [syscall]:\n"
             "os/signal.signal_recv()\n\t/usr/local/go/src/runtime/sigqueue.go:152 +0x2f\n"
             "os/signal.loop()\n\t/usr/local/go/src/os/signal/signal_unix.go:23 +0x19\n"
             "created by os/signal.Notify.func1.1\n\t/usr/local/go/src/os/signal/signal.go:151 +0x2a\n\n"
             "rax    0xca\nrbx    0x0\nrcx    0x46b6a3\nrip    0x46b6a1\nrflags 0x286\ncs     0x33\nfs     0x0\n"
             "gs     0x0");
}

/* ------------------------------------------------------------------------------------------ */
/* Side effects of the first registration: --pidfile and NOTIFY_SOCKET, as the real one does    */
/* ------------------------------------------------------------------------------------------ */

static void on_first_registration(void)
{
    if (O.set[FI_PIDFILE] && *O.val[FI_PIDFILE]) {
        int fd = open(O.val[FI_PIDFILE], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            char b[24];
            int n = snprintf(b, sizeof b, "%d", (int)getpid()); /* no newline, like the real one */
            ssize_t w = write(fd, b, (size_t)n);
            (void)w;
            close(fd);
        }
    }
    const char *ns = getenv("NOTIFY_SOCKET");
    if (ns && *ns && strlen(ns) < sizeof(((struct sockaddr_un *)0)->sun_path)) {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            size_t l = strlen(ns);
            memcpy(sa.sun_path, ns, l);
            if (ns[0] == '@')
                sa.sun_path[0] = '\0';
            sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa,
                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l));
            close(fd);
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Tunnel events                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void slot_register(int i)
{
    struct slot *s = &S.slot[i];
    new_uuid(s->conn);
    s->st = SL_UP;
    log_at(LV_INF, "Registered tunnel connection connIndex=%d connection=%s event=0 ip=%s location=lax01 protocol=%s",
           i, s->conn, slot_ip(i), proto_word());
    if (!S.ever_registered) {
        S.ever_registered = true;
        on_first_registration();
    }
}

static void ev_register(int i, int64_t now)
{
    if (S.slot[i].st != SL_IDLE)
        return;
    slot_register(i);
    /* The edge-loss knob counts from the moment the whole initial set is up. */
    if (++S.n_initial_up == S.nslots && K.unregister_after_ms >= 0 && !S.lost_once)
        timer_add(EV_LOSE, 0, now + K.unregister_after_ms * NS_PER_MS);
}

/* Silent edge loss, as in capture named-silent-edge-loss-reconnect. */
static void ev_lose(int64_t now)
{
    S.lost_once = true;
    for (int i = 0; i < S.nslots; i++) {
        if (S.slot[i].st != SL_UP)
            continue;
        S.slot[i].st = SL_LOST;
        const char *ip = slot_ip(i);
        log_at(LV_INF, "Unregistered tunnel connection connIndex=%d event=0 ip=%s", i, ip);
        int lv = conn_err_level();
        log_at(lv,
               "Failed to serve quic connection error=\"timeout: no recent network activity\" connIndex=%d "
               "event=0 ip=%s",
               i, ip);
        log_at(lv, "Serve tunnel error error=\"timeout: no recent network activity\" connIndex=%d event=0 ip=%s", i,
               ip);
        if (K.dial_retry_ms > 0)
            timer_add(EV_DIAL_RETRY, i, now + K.dial_retry_ms * NS_PER_MS);
    }
}

static void ev_dial_retry(int i, int64_t now)
{
    log_at(conn_err_level(), DIAL_TIMEOUT, i, slot_ip(i));
    timer_add(EV_DIAL_RETRY, i, now + K.dial_retry_ms * NS_PER_MS);
}

/* capture named-unauthorized-retry-forever: the backoff shown doubles up to 2^(retries+1) s. */
static void ev_unauth(int64_t now)
{
    const char *ip = slot_ip(0);
    int exp = S.unauth_attempt + 1, cap = (int)(O.retries + 1);
    if (cap < 1)
        cap = 1;
    if (exp > cap)
        exp = cap;
    if (exp > 40)
        exp = 40;
    char d[40];
    fmt_duration(d, sizeof d, ((int64_t)1 << exp) * NS_PER_S);
    S.unauth_attempt++;
    log_at(LV_ERR,
           "Failed to serve quic connection error=\"Unauthorized: Invalid tunnel secret\" connIndex=0 event=0 "
           "ip=%s",
           ip);
    log_at(LV_ERR,
           "Register tunnel error from server side error=\"Unauthorized: Invalid tunnel secret\" connIndex=0 "
           "event=0 ip=%s",
           ip);
    log_at(LV_INF, "Retrying connection in up to %s connIndex=0 event=0 ip=%s", d, ip);
    timer_add(EV_UNAUTH, 0, now + K.retry_ms * NS_PER_MS);
}

/* ------------------------------------------------------------------------------------------ */
/* Real dials (FAKE_CF_DIAL=1): the slots dial the --edge addresses of a small fake edge        */
/* (test/fakes/fake_edge.py): UDP for quic, TCP for http2. The lines and timings of each failure */
/* are those of docs/cloudflared.md §10: a single static edge with no route (or a refused TCP   */
/* port) is re-dialled with no pause at all, burning a core; an unanswered QUIC dial times out  */
/* after 5 s and backs off; a lost connection is re-dialled after a random 0-20 s, doubling.    */
/* ------------------------------------------------------------------------------------------ */

enum dial_phase { DP_NONE, DP_DIALING, DP_UP, DP_TERMINATING, DP_WAITING };
static struct dialer {
    int fd;
    enum dial_phase phase;
    bool tcp;
    int edge;
    int fails;   /* consecutive failed dials: the per-connection backoff */
    int drops;   /* consecutive lost connections: the supervisor's backoff */
    int64_t last_rx, due; /* due: next action (dial, ping, timeout), 0 = none */
    char rx[64];
    unsigned rxlen;
} D[MAX_SLOTS];
static bool g_dial_http2; /* auto fell back, or --protocol http2 */
static int g_quic_timeouts;

static void dial_close(struct dialer *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    d->rxlen = 0;
}

/* Go's wording of a connect(2) error. */
static const char *errno_text(int err)
{
    return err == ECONNREFUSED ? "connection refused" : err == ENETUNREACH ? "network is unreachable" : strerror(err);
}

/* A random wait below `cap_ms` (Go's backoff: "up to"). */
static int64_t below(int64_t cap_ms) { return cap_ms > 0 ? (int64_t)(rng_next() % (uint64_t)cap_ms) : 0; }

static bool edge_addr(int e, struct sockaddr_in *sa)
{
    const char *a = O.edges[e % O.n_edges];
    char host[64];
    const char *colon = strrchr(a, ':');
    size_t n = colon ? (size_t)(colon - a) : strlen(a);
    if (n >= sizeof host)
        return false;
    memcpy(host, a, n);
    host[n] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(colon ? (uint16_t)atoi(colon + 1) : 7844);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static const char *edge_ip(int e)
{
    static char ip[64];
    struct sockaddr_in sa;
    if (!edge_addr(e, &sa))
        return "?";
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    return ip;
}

/* A failed dial: the line of the real one, then when to try again. */
static void dial_failed(int i, int64_t now, const char *err, bool timeout)
{
    struct dialer *d = &D[i];
    const char *ip = edge_ip(d->edge);
    int lv = conn_err_level();
    dial_close(d);
    if (d->tcp) {
        log_at(lv, "Unable to establish connection with Cloudflare edge error=\"DialContext error: dial tcp %s:7844: %s\" connIndex=%d event=0 ip=%s", ip, err, i, ip);
        log_at(lv, "Serve tunnel error error=\"DialContext error: dial tcp %s:7844: %s\" connIndex=%d event=0 ip=%s", ip, err, i, ip);
    } else if (timeout) {
        log_at(lv, DIAL_TIMEOUT, i, ip);
    } else {
        log_at(lv, "Failed to create new quic connection error=\"failed to dial to edge with quic: INTERNAL_ERROR (local): write udp [::]:%d->%s:7844: sendmsg: %s\" connIndex=%d event=0 ip=%s",
               30000 + (int)(rng_next() % 30000), ip, err, i, ip);
    }
    if (timeout && !d->tcp && !g_dial_http2 && ++g_quic_timeouts >= 9 && O.n_edges >= 2 && !(O.set[FI_PROTOCOL] && !strcmp(O.val[FI_PROTOCOL], "quic")) && !is_quick()) {
        log_at(LV_WRN, "If this log occurs persistently, and cloudflared is unable to connect to Cloudflare Network with `quic` protocol, then most likely your machine/network is getting its egress UDP to port 7844 (or others) blocked or dropped. Make sure to allow egress connectivity as per https://developers.cloudflare.com/cloudflare-one/connections/connect-apps/configuration/ports-and-ips/\nIf you are using private routing to this Tunnel, then UDP (and Private DNS Resolution) will not work unless your cloudflared can connect with Cloudflare Network with `quic`. connIndex=%d event=0 ip=%s", i, ip);
        log_at(LV_INF, "Switching to fallback protocol http2 connIndex=%d event=0 ip=%s", i, ip);
        g_dial_http2 = true;
        d->fails = 0;
        d->phase = DP_WAITING;
        d->due = now;
        return;
    }
    d->phase = DP_WAITING;
    if (O.n_edges == 1 && !timeout) {
        /* No pause at all (the real one: thousands of lines a second, a core). */
        d->due = now + (d->tcp ? 38 : 340) * 1000;
        return;
    }
    d->edge++;
    int64_t cap = (int64_t)1000 << (d->fails + 1 > 6 ? 6 : d->fails + 1);
    d->fails++;
    char dur[40];
    fmt_duration(dur, sizeof dur, cap * NS_PER_MS);
    log_at(LV_INF, "Retrying connection in up to %s connIndex=%d event=0 ip=%s", dur, i, ip);
    d->due = now + below(cap) * NS_PER_MS;
}

static void dial_start(int i, int64_t now)
{
    struct dialer *d = &D[i];
    struct sockaddr_in sa;
    d->tcp = g_dial_http2;
    d->phase = DP_DIALING;
    if (!edge_addr(d->edge, &sa)) {
        dial_failed(i, now, "invalid address", false);
        return;
    }
    d->fd = socket(AF_INET, (d->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->fd < 0) {
        dial_failed(i, now, "socket: too many open files", false);
        return;
    }
    int rc = connect(d->fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc < 0 && errno != EINPROGRESS) {
        char err[128];
        snprintf(err, sizeof err, "%s%s", d->tcp ? "connect: " : "", errno_text(errno));
        dial_failed(i, now, err, false);
        return;
    }
    if (!d->tcp) {
        char msg[80];
        int n = snprintf(msg, sizeof msg, "REG %d %s", i, S.connector_id);
        if (send(d->fd, msg, (size_t)n, MSG_NOSIGNAL) < 0) {
            dial_failed(i, now, errno_text(errno), false);
            return;
        }
    }
    d->due = now + knob_int("FAKE_CF_QUIC_TIMEOUT_MS", 5000) * NS_PER_MS; /* QUIC handshake idle timeout */
}

static void dial_up(int i, int64_t now)
{
    struct dialer *d = &D[i];
    d->phase = DP_UP;
    d->fails = 0;
    d->drops = 0;
    d->last_rx = now;
    d->due = now + 1000 * NS_PER_MS; /* keepalive */
    S.slot[i].st = SL_IDLE;
    new_uuid(S.slot[i].conn);
    S.slot[i].st = SL_UP;
    log_at(LV_INF, "Registered tunnel connection connIndex=%d connection=%s event=0 ip=%s location=lax01 protocol=%s", i,
           S.slot[i].conn, edge_ip(d->edge), d->tcp ? "http2" : "quic");
    if (!S.ever_registered) {
        S.ever_registered = true;
        on_first_registration();
        /* Slots 0 and 1 together, then one a second, as the real supervisor does. */
        for (int k = 1; k < S.nslots; k++)
            if (D[k].phase == DP_WAITING && !D[k].due)
                D[k].due = now + (k - 1) * 1000 * NS_PER_MS;
    }
}

/* The connection is gone (idle timeout, or the edge closed it). */
static void dial_lost(int i, int64_t now, const char *why)
{
    struct dialer *d = &D[i];
    const char *ip = edge_ip(d->edge);
    dial_close(d);
    S.slot[i].st = SL_LOST;
    log_at(LV_INF, "Unregistered tunnel connection connIndex=%d event=0 ip=%s", i, ip);
    int lv = conn_err_level();
    if (!d->tcp)
        log_at(lv, "Failed to serve quic connection error=\"failed to accept QUIC stream: %s\" connIndex=%d event=0 ip=%s", why, i, ip);
    log_at(lv, "Serve tunnel error error=\"%s%s\" connIndex=%d event=0 ip=%s", d->tcp ? "" : "failed to accept QUIC stream: ", why, i, ip);
    log_at(LV_INF, "Retrying connection in up to 1s connIndex=%d event=0 ip=%s", i, ip);
    d->phase = DP_TERMINATING;
    d->due = now + (500 + below(1000)) * NS_PER_MS;
}

static void dial_due(int i, int64_t now)
{
    struct dialer *d = &D[i];
    d->due = 0;
    switch (d->phase) {
    case DP_NONE: break;
    case DP_WAITING: dial_start(i, now); break;
    case DP_DIALING: dial_failed(i, now, "timeout: no recent network activity", true); break;
    case DP_UP:
        if (now - d->last_rx >= 5000 * NS_PER_MS) {
            dial_lost(i, now, "timeout: no recent network activity");
            break;
        }
        send(d->fd, d->tcp ? "PING\n" : "PING", d->tcp ? 5 : 4, MSG_NOSIGNAL); /* errors: the idle timeout tells */
        d->due = now + 1000 * NS_PER_MS;
        break;
    case DP_TERMINATING: {
        log_at(conn_err_level(), "Connection terminated error=\"%stimeout: no recent network activity\" connIndex=%d", d->tcp ? "" : "failed to accept QUIC stream: ", i);
        /* The supervisor's re-dial: a random wait below 10 s x 2^drops (below 20 s the first time). */
        d->drops++;
        int64_t cap = knob_int("FAKE_CF_REDIAL_BASE_MS", 10000) << (d->drops > 6 ? 6 : d->drops);
        d->phase = DP_WAITING;
        d->due = now + below(cap) * NS_PER_MS;
        break;
    }
    }
}

/* A non-blocking TCP connect that ended in an error: reported as a failed dial. */
static bool connect_failed(int i, int64_t now)
{
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(D[i].fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (!err)
        return false;
    char e[128];
    snprintf(e, sizeof e, "connect: %s", errno_text(err));
    dial_failed(i, now, e, false);
    return true;
}

static void dial_readable(int i, int64_t now)
{
    struct dialer *d = &D[i];
    if (d->tcp && d->phase == DP_DIALING && d->rxlen == 0 && connect_failed(i, now))
        return;
    char buf[128];
    ssize_t n = recv(d->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (d->phase == DP_UP)
            dial_lost(i, now, d->tcp ? "EOF" : "Application error 0x0 (remote)");
        else
            dial_failed(i, now, n == 0 ? "EOF" : errno_text(errno), false);
        return;
    }
    d->last_rx = now;
    if (d->phase == DP_DIALING && n >= 2 && !strncmp(buf, "OK", 2))
        dial_up(i, now);
}

/* Once the TCP connection is up, register over it. */
static void dial_writable(int i, int64_t now)
{
    struct dialer *d = &D[i];
    if (connect_failed(i, now))
        return;
    char msg[80];
    int n = snprintf(msg, sizeof msg, "REG %d %s\n", i, S.connector_id);
    send(d->fd, msg, (size_t)n, MSG_NOSIGNAL);
    d->rxlen = 1; /* registration sent: wait for the answer only */
}

static void dial_begin(int conns, int64_t now)
{
    g_dial_http2 = O.set[FI_PROTOCOL] && !strcmp(O.val[FI_PROTOCOL], "http2");
    /* Slot 0 dials alone; the others follow once it has registered. */
    for (int i = 0; i < conns; i++) {
        D[i].fd = -1;
        D[i].edge = i;
        D[i].phase = DP_WAITING;
        D[i].due = i == 0 ? now : 0;
    }
}

static void dial_stop_all(void)
{
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (D[i].phase != DP_NONE)
            dial_close(&D[i]);
        D[i].phase = DP_NONE;
        D[i].due = 0;
    }
}

static void ev_crash(void)
{
    if (K.crash_signal > 0 && K.crash_signal < NSIG) {
        int sig = (int)K.crash_signal;
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core); /* hundreds of test runs must not litter core files */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        signal(sig, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
    }
    if (K.crash_message)
        plain(2, "%s", K.crash_message);
    exit((int)(K.crash_status & 0xff));
}

static void begin_shutdown(int sig, int64_t now)
{
    S.shutting_down = true;
    log_at(LV_INF, "Initiating graceful shutdown due to signal %s ...", sig == SIGINT ? "interrupt" : "terminated");
    static const enum ev tunnel_events[] = {EV_URL_BOX, EV_REGISTER,  EV_LOSE, EV_DIAL_RETRY,
                                            EV_UNAUTH,  EV_HEARTBEAT};
    for (size_t i = 0; i < sizeof tunnel_events / sizeof tunnel_events[0]; i++)
        timer_cancel(tunnel_events[i]);
    S.flood_on = false;
    dial_stop_all();
    timer_add(EV_SHUTDOWN_DONE, 0, now);
}

/* The end of a graceful shutdown: the connections unregister at once, so --grace-period never
 * cuts it short. */
static void ev_shutdown_done(void)
{
    int up = count_up();
    for (int i = 0; i < S.nslots; i++)
        if (S.slot[i].st == SL_UP)
            log_at(LV_INF, "Unregistered tunnel connection connIndex=%d event=0 ip=%s", i, slot_ip(i));
    for (int i = 0; i < S.nslots; i++) {
        if (S.slot[i].st != SL_UP)
            continue;
        log_at(LV_ERR, "Failed to serve quic connection error=\"context canceled\" connIndex=%d event=0 ip=%s", i,
               slot_ip(i));
        log_at(LV_INF, "Retrying connection in up to 1s connIndex=%d event=0 ip=%s", i, slot_ip(i));
    }
    if (up)
        log_at(LV_ERR, "no more connections active and exiting");
    log_at(LV_INF, "Tunnel server stopped");
    log_at(LV_INF, "Metrics server stopped");
    exit(0);
}

static void flood_batch(void)
{
    char buf[8192];
    size_t n = 0;
    while (n < sizeof buf - 256 && S.flood_left != 0) {
        n += fmt_timestamp(buf + n, sizeof buf - n);
        n += (size_t)snprintf(buf + n, sizeof buf - n, " ERR ");
        n += (size_t)snprintf(buf + n, sizeof buf - n, DIAL_TIMEOUT, 0, slot_ip(0));
        buf[n++] = '\n';
        if (S.flood_left > 0)
            S.flood_left--;
    }
    if (g_min_level <= LV_ERR)
        write_all(2, buf, n);
    if (S.flood_left == 0)
        S.flood_on = false;
}

/* ------------------------------------------------------------------------------------------ */
/* Metrics server                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* Go's net.Listen error texts: the ERR record, then the plain line, exit 1. */
static void metrics_fail(const char *err)
{
    char q[700];
    log_at(LV_ERR, "Error opening metrics server listener error=%s", go_quote(err, q, sizeof q));
    plain(2, "Error opening metrics server listener: %s", err);
    exit(1);
}

static void metrics_listen(const char *addr, char *bound, size_t cap)
{
    char err[600];
    const char *colon = strrchr(addr, ':');
    char host[256];
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    if (!colon || hl >= sizeof host) {
        snprintf(err, sizeof err, "listen tcp: address %s: missing port in address", addr);
        metrics_fail(err);
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    const char *port = colon + 1;
    char *end;
    long pn = strtol(port, &end, 10);
    if (!*port || *end || pn < 0 || pn > 65535) {
        snprintf(err, sizeof err, "listen tcp: address %s: invalid port", addr);
        metrics_fail(err);
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    if (getaddrinfo(*host ? host : NULL, port, &hints, &res) != 0 || !res) {
        snprintf(err, sizeof err, "listen tcp: lookup %s: no such host", host);
        metrics_fail(err);
    }
    /* Go prefers IPv4 for names like localhost. */
    struct addrinfo *pick = res;
    for (struct addrinfo *r = res; r; r = r->ai_next)
        if (r->ai_family == AF_INET) {
            pick = r;
            break;
        }
    if (!*host)
        for (struct addrinfo *r = res; r; r = r->ai_next)
            if (r->ai_family == AF_INET6)
                pick = r;
    int fd = socket(pick->ai_family, pick->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* Go sets it too */
    if (fd < 0 || bind(fd, pick->ai_addr, pick->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        const char *op = fd < 0 ? "socket" : "bind";
        int at = snprintf(err, sizeof err, "listen tcp %s: %s: ", addr, op);
        snprintf(err + at, sizeof err - (size_t)at, "%s", strerror(e));
        err[at] = (char)tolower((unsigned char)err[at]); /* Go's errno texts are lower case */
        freeaddrinfo(res);
        metrics_fail(err);
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    char ip[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(bound, cap, "[%s]:%d", ip, ntohs(s6->sin6_port));
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
        snprintf(bound, cap, "%s:%d", ip, ntohs(s4->sin_port));
    }
    S.listen_fd = fd;
}

static void client_close(struct client *c)
{
    close(c->fd);
    c->fd = -1;
}

static void http_respond(struct client *c)
{
    char method[16] = "", path[256] = "";
    sscanf(c->buf, "%15s %255s", method, path);
    path[strcspn(path, "?#")] = '\0';
    char body[320];
    int code = 200;
    const char *extra = "";
    if (!strcmp(path, "/ready")) {
        int up = count_up();
        code = up > 0 ? 200 : 503;
        snprintf(body, sizeof body, "{\"status\":%d,\"readyConnections\":%d,\"connectorId\":\"%s\"}", code, up,
                 S.connector_id);
    } else if (!strcmp(path, "/healthcheck")) {
        snprintf(body, sizeof body, "OK\n");
    } else if (!strcmp(path, "/quicktunnel")) {
        snprintf(body, sizeof body, "{\"hostname\":\"%s\"}", is_quick() ? S.host : "");
    } else {
        code = 404;
        extra = "X-Content-Type-Options: nosniff\r\n";
        snprintf(body, sizeof body, "404 page not found\n");
    }
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    const char *reason = code == 200 ? "OK" : code == 503 ? "Service Unavailable" : "Not Found";
    char resp[900];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n%sDate: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     code, reason, extra, date, strlen(body), strcmp(method, "HEAD") ? body : "");
    send(c->fd, resp, (size_t)n, MSG_NOSIGNAL);
    client_close(c);
}

static void http_read(struct client *c)
{
    ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0 && c->len == 0) {
        client_close(c);
        return;
    }
    if (n > 0)
        c->len += (unsigned)n;
    c->buf[c->len] = '\0';
    if (n <= 0 || strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n") || c->len == sizeof c->buf - 1)
        http_respond(c);
}

/* Accepts everything pending. When all slots are busy the oldest connection is dropped, so
 * clients that connect and never send cannot starve health probes. */
static void http_accept(int64_t now)
{
    for (;;) {
        int fd = accept4(S.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct client *c = &S.cl[0];
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (S.cl[i].fd < 0) {
                c = &S.cl[i];
                break;
            }
            if (S.cl[i].deadline < c->deadline)
                c = &S.cl[i];
        }
        if (c->fd >= 0)
            client_close(c);
        c->fd = fd;
        c->len = 0;
        c->deadline = now + 10 * NS_PER_S; /* the real server's timeouts are 10 s */
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Signals                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static struct sigaction g_dfl_term;

/* Like Go's signal.Stop after the first signal: SIGTERM goes back to "die", SIGINT to whatever it
 * was at exec (so a second one kills, or stays ignored if the parent ignored it). */
static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGINT) {
        sigaction(SIGTERM, &g_dfl_term, NULL);
        sigaction(SIGINT, &S.sigint_at_exec, NULL);
    }
    unsigned char b = (unsigned char)sig;
    ssize_t r = write(S.sigpipe[1], &b, 1);
    (void)r;
    errno = saved;
}

static void signals_at_exec(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    g_dfl_term.sa_handler = SIG_DFL;
    sigemptyset(&g_dfl_term.sa_mask);
    sigaction(SIGINT, NULL, &S.sigint_at_exec);
    if (pipe2(S.sigpipe, O_NONBLOCK | O_CLOEXEC) < 0)
        exit(1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaction(SIGQUIT, &sa, NULL);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGPIPE, SIG_IGN); /* EPIPE on fd 1/2 is turned into SIGPIPE death in write_all() */
    signal(SIGCHLD, SIG_IGN); /* auto-reap the grandchild so a dead one is really gone */
    if (K.ignore_term) {
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        S.sigint_at_exec.sa_handler = SIG_IGN;
    } else {
        sigaction(SIGTERM, &g_dfl_term, NULL); /* Go dies on SIGTERM even if ignored at exec */
    }
    /* SIGHUP keeps its inherited disposition: cloudflared does not handle it. */
}

/* cloudflared only catches SIGTERM/SIGINT once StartServer runs (after the Settings line);
 * before that they kill it at once, as in capture quick-sigterm-during-service-request. */
static void install_term_handlers(void)
{
    if (K.ignore_term)
        return;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Start-up bookkeeping: spawn log, spawn counter, grandchild, quick-tunnel host name           */
/* ------------------------------------------------------------------------------------------ */

static void write_spawn_log(int ac, char **av)
{
    if (!K.spawn_log || !*K.spawn_log)
        return;
    size_t cap = 128;
    for (int i = 0; i < ac; i++)
        cap += strlen(av[i]) + 8;
    char *line = malloc(cap);
    if (!line)
        return;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    const char *env_tok = getenv("TUNNEL_TOKEN");
    bool has_token = O.set[FI_TOKEN] || (env_tok && *env_tok);
    size_t n = (size_t)snprintf(line, cap, "%d %lld token=%s", (int)getpid(),
                                (long long)rt.tv_sec * NS_PER_S + rt.tv_nsec, has_token ? "yes" : "no");
    for (int i = 0; i < ac; i++) {
        const char *a = av[i];
        bool mask_next = i > 0 && (!strcmp(av[i - 1], "--token") || !strcmp(av[i - 1], "-token"));
        if (mask_next)
            a = "*****";
        if (!strncmp(a, "--token=", 8) || !strncmp(a, "-token=", 7))
            n += (size_t)snprintf(line + n, cap - n, " %.*s*****", (int)(strchr(a, '=') - a + 1), a);
        else
            n += (size_t)snprintf(line + n, cap - n, " %s", a);
    }
    line[n++] = '\n';
    int fd = open(K.spawn_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, line, n); /* O_APPEND + one write: lines from parallel fakes never mix */
        (void)w;
        close(fd);
    }
    free(line);
}

/* FAKE_CF_ENV_LOG: one line "<pid> <key> NAME=VALUE..." with the Go runtime variables the
 * process got ("-" for none), so tests see what a real child's runtime would read. */
static void write_env_log(void)
{
    if (!K.env_log || !*K.env_log)
        return;
    static const char *const NAMES[] = {"GOMEMLIMIT", "GOMAXPROCS", "GOGC"};
    char line[512];
    int n = snprintf(line, sizeof line, "%d %s", (int)getpid(), *O.key ? O.key : "-");
    bool any = false;
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(NAMES[i]);
        if (v && n < (int)sizeof line) {
            n += snprintf(line + n, sizeof line - (size_t)n, " %s=%s", NAMES[i], v);
            any = true;
        }
    }
    if (!any && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, " -");
    if (n >= (int)sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int fd = open(K.env_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)n);
        (void)w;
        close(fd);
    }
}

/* FAKE_CF_FOOTPRINT_KB: private memory held for the whole run, every page written, as a stand-in
 * for a real child's footprint in memory benchmarks. */
static char *volatile g_footprint;

static void hold_footprint(void)
{
    if (K.footprint_kb <= 0)
        return;
    size_t len = (size_t)K.footprint_kb * 1024;
    char *p = malloc(len);
    if (!p)
        return;
    for (size_t i = 0; i < len; i += 4096)
        p[i] = (char)(i / 4096 + 1);
    g_footprint = p;
}

/* Increments the counter under flock; returns the new value (0 if there is no counter file). */
static long long bump_counter(void)
{
    if (!K.counter_file || !*K.counter_file)
        return 0;
    int fd = open(K.counter_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return 0;
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR) {
    }
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long long v = n > 0 ? strtoll(buf, NULL, 10) + 1 : 1;
    int l = snprintf(buf, sizeof buf, "%lld\n", v);
    if (ftruncate(fd, 0) == 0) {
        ssize_t w = pwrite(fd, buf, (size_t)l, 0);
        (void)w;
    }
    close(fd); /* releases the lock */
    return v;
}

static void spawn_grandchild(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Same process group, inherited stdout/stderr kept open: the kind of leftover a
         * supervisor must reap with a group kill. */
        close(S.sigpipe[0]);
        close(S.sigpipe[1]);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGTERM, K.grandchild_ignore_term ? SIG_IGN : SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        for (;;)
            pause();
    }
    if (pid < 0)
        return;
    log_at(LV_INF, "fake grandchild pid=%d", (int)pid);
}

static const char *const WORDS[128] = {
    "amber",   "apple",   "arctic", "atlas",   "autumn",  "bacon",   "badge",   "bamboo",  "banner",  "basin",
    "beacon",  "berry",   "bishop", "blade",   "blossom", "border",  "breeze",  "bridge",  "bronze",  "bubble",
    "cabin",   "cactus",  "camera", "candle",  "canyon",  "carbon",  "cargo",   "castle",  "cedar",   "cement",
    "cherry",  "cider",   "circle", "cliff",   "clover",  "cobalt",  "comet",   "copper",  "coral",   "cotton",
    "crane",   "crystal", "dagger", "delta",   "desert",  "diesel",  "dolphin", "dragon",  "eagle",   "echo",
    "ember",   "engine",  "falcon", "feather", "fiber",   "forest",  "fossil",  "galaxy",  "garden",  "ginger",
    "glacier", "granite", "gravel", "harbor",  "hazel",   "helmet",  "hollow",  "horizon", "island",  "ivory",
    "jacket",  "jasmine", "jungle", "kettle",  "lantern", "laser",   "lemon",   "lily",    "lobster", "lunar",
    "magnet",  "maple",   "marble", "meadow",  "meteor",  "mirror",  "monsoon", "mosaic",  "nectar",  "nickel",
    "oasis",   "ocean",   "olive",  "onion",   "orbit",   "orchid",  "otter",   "oxygen",  "paddle",  "panda",
    "pebble",  "pepper",  "piano",  "pilot",   "planet",  "prairie", "quartz",  "radar",   "raven",   "ribbon",
    "river",   "rocket",  "saddle", "salmon",  "scarlet", "shadow",  "silver",  "spiral",  "summit",  "tiger",
    "timber",  "tulip",   "velvet", "walnut",  "willow",  "zephyr",  "fjord",   "geyser"};

/* Four 7-bit word indices from 28 bits = 22 bits of pid (pid_max <= 2^22 on Linux) + 6 random
 * bits, scrambled by a bijection: processes alive at the same time never share a host name,
 * and a reused pid still gets a new name with probability 63/64. */
static void make_host(void)
{
    const uint32_t mask = (1u << 28) - 1;
    uint32_t x = ((uint32_t)(rng_next() & 63) << 22) | ((uint32_t)getpid() & 0x3FFFFF);
    for (int r = 0; r < 3; r++) {
        x ^= x >> 13;
        x = (x * 0x2C1B3C6Du) & mask; /* odd multiplier: a bijection modulo 2^28 */
        x ^= x >> 11;
        x = (x * 0x297A2D39u) & mask;
    }
    snprintf(S.host, sizeof S.host, "%s-%s-%s-%s.trycloudflare.com", WORDS[x & 127], WORDS[(x >> 7) & 127],
             WORDS[(x >> 14) & 127], WORDS[(x >> 21) & 127]);
}

/* ------------------------------------------------------------------------------------------ */
/* Start-up sequences                                                                           */
/* ------------------------------------------------------------------------------------------ */

static void quick_begin(void)
{
    log_disclaimer();
    /* FAKE_CF_NO_URL models a quick-tunnel API that never answers (the real client would give up
     * after 15 s; the fake waits for ever). */
    if (!K.no_url)
        timer_add(EV_URL_BOX, 0, S.t0 + (K.url_delay_ms > 0 ? K.url_delay_ms : 0) * NS_PER_MS);
}

static void api_error_exit(void)
{
    const char *e = K.api_error;
    if (!strcmp(e, "429"))
        plain(2, "failed to unmarshal quick Tunnel: invalid character '<' looking for beginning of value");
    else if (!strcmp(e, "500"))
        plain(2, "failed to parse quick Tunnel ID: invalid UUID length: 0");
    else
        plain(2, "failed to request quick Tunnel: Post \"https://api.trycloudflare.com/tunnel\": dial tcp: lookup "
                 "api.trycloudflare.com on 10.255.255.53:53: dial udp 10.255.255.53:53: connect: network is "
                 "unreachable");
    exit(1);
}

/* StartServer() and prepareTunnelConfig(): shared by quick (after the URL box) and named. */
static void start_server(int64_t now)
{
    if (is_quick()) {
        /* RunQuickTunnel forces these, so they show in Settings (protocol only if not given). */
        O.set[FI_HA] = true;
        O.val[FI_HA] = "1";
        if (!O.set[FI_PROTOCOL]) {
            O.set[FI_PROTOCOL] = true;
            O.val[FI_PROTOCOL] = "quic";
        }
    }
    if (is_quick() && !O.set[FI_CONFIG])
        log_at(LV_INF, "Cannot determine default configuration path. No file [config.yml config.yaml] in "
                       "[~/.cloudflared ~/.cloudflare-warp ~/cloudflare-warp /etc/cloudflared "
                       "/usr/local/etc/cloudflared]");
    log_at(LV_INF, "Version " VERSION);
    log_at(LV_INF, "GOOS: linux, GOVersion: go1.19.8, GoArch: amd64");
    log_settings();
    log_environment();
    install_term_handlers();
    log_at(LV_INF, "Generated Connector ID: %s", S.connector_id);
    log_at(LV_WRN, "Unable to lookup protocol percentage.");
    if (O.set[FI_PROTOCOL]) {
        const char *p = O.val[FI_PROTOCOL];
        if (strcmp(p, "auto") && strcmp(p, "quic") && strcmp(p, "http2")) {
            char msg[600];
            snprintf(msg, sizeof msg,
                     "Unknown protocol %s, Available protocols: 'auto' - automatically chooses the best protocol "
                     "over time (the default; and also the recommended one); 'quic' - based on QUIC, relying on UDP "
                     "egress to Cloudflare edge; 'http2' - using Go's HTTP2 library, relying on TCP egress to "
                     "Cloudflare edge",
                     p);
            fail_start(msg);
        }
    }
    log_at(LV_INF, "Initial protocol %s", proto_word());
    if (O.set[FI_EDGE_IP]) {
        const char *v = O.val[FI_EDGE_IP];
        if (strcmp(v, "4") && strcmp(v, "6") && strcmp(v, "auto")) {
            char msg[300];
            snprintf(msg, sizeof msg, "invalid value for edge-ip-version: %s", v);
            fail_start(msg);
        }
    }
    if (O.grace_ns > 180 * NS_PER_S)
        fail_start("grace-period must be equal or less than 3m0s");
    log_icmp();
    if (O.set[FI_METRICS]) {
        char bound[128];
        metrics_listen(O.val[FI_METRICS], bound, sizeof bound);
        log_at(LV_INF, "Starting metrics server on %s/metrics", bound);
    }

    /* Named: HA connections (--ha-connections limited by the --edge count, which is what the real
     * "at most N" message reports). Quick: always exactly one. */
    int conns = 1;
    if (!is_quick()) {
        long want = O.ha > 0 ? O.ha : 1;
        conns = (int)(O.n_edges > 0 && O.n_edges < want ? O.n_edges : want);
        if (conns > MAX_SLOTS)
            conns = MAX_SLOTS;
        if (conns > 0 && conns < want)
            log_at(LV_INF, "You requested %ld HA connections but I can give you at most %d.", want, conns);
    }
    S.nslots = conns;

    if (K.dial && O.n_edges > 0) {
        dial_begin(conns, now);
    } else if (!is_quick() && K.unauthorized) {
        timer_add(EV_UNAUTH, 0, now);
        if (K.unauth_register_ms >= 0)
            timer_add(EV_REGISTER, 0, now + K.unauth_register_ms * NS_PER_MS);
    } else {
        for (int i = 0; i < conns; i++)
            timer_add(EV_REGISTER, i, now);
    }
    if (K.heartbeat_ms > 0)
        timer_add(EV_HEARTBEAT, 0, now + K.heartbeat_ms * NS_PER_MS);
    if (K.flood || K.flood_lines > 0) {
        S.flood_on = true;
        S.flood_left = K.flood ? -1 : K.flood_lines;
    }
}

static void fire_timer(struct timer t, int64_t now)
{
    switch (t.kind) {
    case EV_URL_BOX:
        if (K.api_error)
            api_error_exit();
        log_url_box();
        start_server(now);
        break;
    case EV_CRASH: ev_crash(); break;
    case EV_REGISTER: ev_register(t.arg, now); break;
    case EV_LOSE: ev_lose(now); break;
    case EV_DIAL_RETRY: ev_dial_retry(t.arg, now); break;
    case EV_UNAUTH: ev_unauth(now); break;
    case EV_HEARTBEAT:
        log_at(LV_ERR, DIAL_TIMEOUT, 0, slot_ip(0));
        timer_add(EV_HEARTBEAT, 0, now + K.heartbeat_ms * NS_PER_MS);
        break;
    case EV_SHUTDOWN_DONE: ev_shutdown_done(); break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The loop                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static void run_loop(void)
{
    for (;;) {
        int64_t now = now_ns();
        /* Fire due timers earliest first; handlers may add new ones. */
        for (;;) {
            int best = -1;
            for (int i = 0; i < MAX_TIMERS; i++)
                if (S.timers[i].used && S.timers[i].due <= now && (best < 0 || S.timers[i].due < S.timers[best].due))
                    best = i;
            if (best < 0)
                break;
            struct timer t = S.timers[best];
            S.timers[best].used = false;
            fire_timer(t, now);
        }
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (S.cl[i].fd >= 0 && S.cl[i].deadline <= now)
                client_close(&S.cl[i]);

        int64_t next = INT64_MAX;
        for (int i = 0; i < MAX_TIMERS; i++)
            if (S.timers[i].used && S.timers[i].due < next)
                next = S.timers[i].due;
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (S.cl[i].fd >= 0 && S.cl[i].deadline < next)
                next = S.cl[i].deadline;
        for (int i = 0; i < MAX_SLOTS; i++) {
            if (D[i].phase != DP_NONE && D[i].due && D[i].due <= now)
                dial_due(i, now);
            if (D[i].phase != DP_NONE && D[i].due && D[i].due < next)
                next = D[i].due;
        }
        int timeout = -1;
        if (S.flood_on)
            timeout = 0;
        else if (next != INT64_MAX) {
            int64_t ms = (next - now + NS_PER_MS - 1) / NS_PER_MS;
            /* A re-dial due within the millisecond: spin for it, as the real one burns its core. */
            timeout = next - now < NS_PER_MS ? 0 : ms > 86400000 ? 86400000 : (int)ms;
        }

        struct pollfd pfd[2 + MAX_CLIENTS + MAX_SLOTS];
        int map[2 + MAX_CLIENTS + MAX_SLOTS];
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){.fd = S.sigpipe[0], .events = POLLIN};
        int listen_idx = -1;
        if (S.listen_fd >= 0) {
            listen_idx = (int)n;
            pfd[n++] = (struct pollfd){.fd = S.listen_fd, .events = POLLIN};
        }
        for (int i = 0; i < MAX_CLIENTS; i++)
            if (S.cl[i].fd >= 0) {
                map[n] = i;
                pfd[n++] = (struct pollfd){.fd = S.cl[i].fd, .events = POLLIN};
            }
        nfds_t first_dial = n;
        for (int i = 0; i < MAX_SLOTS; i++)
            if (D[i].phase != DP_NONE && D[i].fd >= 0) {
                map[n] = i;
                bool connecting = D[i].tcp && D[i].phase == DP_DIALING && D[i].rxlen == 0;
                pfd[n++] = (struct pollfd){.fd = D[i].fd, .events = connecting ? POLLOUT : POLLIN};
            }

        int r = poll(pfd, n, timeout);
        if (r < 0 && errno != EINTR)
            exit(1);
        now = now_ns();
        if (r > 0 && (pfd[0].revents & POLLIN)) {
            unsigned char sigs[16];
            ssize_t got = read(S.sigpipe[0], sigs, sizeof sigs);
            for (ssize_t i = 0; i < got; i++) {
                if (sigs[i] == SIGQUIT) {
                    log_sigquit_dump();
                    exit(2);
                }
                if ((sigs[i] == SIGTERM || sigs[i] == SIGINT) && !S.shutting_down)
                    begin_shutdown(sigs[i], now);
            }
        }
        if (r > 0) {
            for (nfds_t i = 1; i < n; i++) {
                if (!pfd[i].revents)
                    continue;
                if ((int)i == listen_idx)
                    http_accept(now);
                else if (i >= first_dial) {
                    int k = map[i];
                    if (D[k].fd != pfd[i].fd)
                        continue; /* closed by an earlier handler in this round */
                    if (pfd[i].events & POLLOUT)
                        dial_writable(k, now);
                    else
                        dial_readable(k, now);
                } else
                    http_read(&S.cl[map[i]]);
            }
        }
        if (S.flood_on)
            flood_batch();
    }
}

int main(int argc, char **argv)
{
    S.t0 = now_ns();
    for (int i = 0; i < MAX_CLIENTS; i++)
        S.cl[i].fd = -1;
    parse_cmdline(argc, argv);
    load_knobs(O.key);
    read_knobs();
    write_spawn_log(argc, argv);
    write_env_log();
    hold_footprint();
    signals_at_exec();

    switch (O.mode) {
    case M_VERSION: plain(1, "cloudflared version " VERSION " (built unknown)"); return 0;
    case M_HELP: print_help(false); return 0;
    case M_USAGE: /* cloudflared prints the usage error to stdout and still exits 0 */ print_help(true); return 0;
    case M_NO_TUNNEL_ARG:
        plain(2, "You did not specify any valid additional argument to the cloudflared tunnel command.\n\n"
                 "If you are trying to run a Quick Tunnel then you need to explicitly pass the --url flag.\n"
                 "Eg. cloudflared tunnel --url localhost:8080/.\n\n"
                 "Please note that Quick Tunnels are meant to be ephemeral and should only be used for testing "
                 "purposes.\nFor production usage, we recommend creating Named Tunnels. "
                 "(https://developers.cloudflare.com/cloudflare-one/connections/connect-apps/install-and-setup/"
                 "tunnel-guide/)\n");
        return 1;
    case M_RUN_NO_TOKEN:
        plain(2, "\"cloudflared tunnel run\" requires the ID or name of the tunnel to run as the last command line "
                 "argument or in the configuration file.\nSee 'cloudflared tunnel run --help'.");
        return 255;
    case M_RUN_BAD_TOKEN:
        plain(2, "Provided Tunnel token is not valid.\nSee 'cloudflared tunnel run --help'.");
        return 255;
    case M_RUN_TOO_MANY_ARGS:
        plain(2, "\"cloudflared tunnel run\" accepts only one argument, the ID or name of the tunnel to run.\n"
                 "See 'cloudflared tunnel run --help'.");
        return 255;
    case M_UNSUPPORTED: plain(2, "fake cloudflared: only `tunnel ...` and `--version` are implemented"); return 2;
    case M_QUICK:
    case M_NAMED: break;
    }

    long long spawn_no = bump_counter();
    bool crash_applies = K.crash_first < 0 || !K.counter_file || spawn_no <= K.crash_first;
    if (K.crash_after_ms >= 0 && crash_applies)
        timer_add(EV_CRASH, 0, S.t0 + K.crash_after_ms * NS_PER_MS);

    rng_seed();
    new_uuid(S.connector_id);
    if (is_quick())
        make_host();

    if (O.set[FI_LOGLEVEL]) {
        static const char *const L[] = {"trace", "debug", "info", "warn", "error", "fatal", "panic", ""};
        static const int LV[] = {LV_DBG, LV_DBG, LV_INF, LV_WRN, LV_ERR, LV_FTL, LV_NONE, LV_INF};
        int found = -1;
        for (int i = 0; i < 8; i++)
            if (!strcmp(O.val[FI_LOGLEVEL], L[i]))
                found = i;
        if (found < 0)
            log_at(LV_ERR, "Failed to parse log level \"%s\", using \"info\" instead", O.val[FI_LOGLEVEL]);
        else
            g_min_level = LV[found];
    }
    if (K.grandchild)
        spawn_grandchild();

    if (is_quick()) {
        quick_begin();
    } else {
        log_at(LV_INF, "Starting tunnel tunnelID=%s", O.tunnel_id);
        start_server(now_ns());
    }
    run_loop();
    return 0;
}
