/* Many short TCP connections for `make bench`: each connection sends a 16-byte request,
 * reads a 64-byte answer and ends; the server closes first (its side keeps TIME_WAIT).
 *   shortconn serve IP PORT WORKERS      (runs until killed)
 *   shortconn load IP PORT SECONDS CONC  (prints "connections OK FAILED")
 * Plain blocking sockets in CONC processes: the router, not this tool, is the limit.
 * GPL-2.0-or-later. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int addr_of(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len) {
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *len = sizeof *a4;
        return AF_INET;
    }
    if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *len = sizeof *a6;
        return AF_INET6;
    }
    fprintf(stderr, "shortconn: bad address %s\n", ip);
    exit(2);
}

static void serve(const char *ip, int port, int workers) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fam = addr_of(ip, port, &ss, &len);
    int l = socket(fam, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l < 0 || bind(l, (struct sockaddr *)&ss, len) < 0 || listen(l, 1024) < 0) {
        perror("shortconn serve");
        exit(1);
    }
    printf("listening\n");
    fflush(stdout);
    for (int i = 1; i < workers; i++)
        if (fork() == 0)
            break;
    char buf[64], answer[64];
    memset(answer, 'a', sizeof answer);
    struct timeval tv = {.tv_sec = 2};
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        size_t got = 0;
        while (got < 16) {
            ssize_t n = recv(c, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            got += n;
        }
        if (got >= 16)
            send(c, answer, sizeof answer, MSG_NOSIGNAL);
        close(c);
    }
}

static int one_connection(const struct sockaddr_storage *ss, socklen_t len, int fam) {
    int s = socket(fam, SOCK_STREAM, 0), one = 1;
    struct timeval tv = {.tv_sec = 2};
    char req[16], buf[128];
    memset(req, 'q', sizeof req);
    if (s < 0)
        return 0;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int ok = 0;
    if (connect(s, (const struct sockaddr *)ss, len) == 0 && send(s, req, sizeof req, MSG_NOSIGNAL) == sizeof req) {
        size_t got = 0;
        ssize_t n;
        while ((n = recv(s, buf, sizeof buf, 0)) > 0)
            got += n;
        ok = got == 64;
    }
    close(s);
    return ok;
}

static void load(const char *ip, int port, double secs, int conc) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fam = addr_of(ip, port, &ss, &len);
    int fds[2];
    if (pipe(fds) < 0) {
        perror("pipe");
        exit(1);
    }
    double end = now() + secs;
    for (int i = 0; i < conc; i++) {
        if (fork() == 0) {
            long counts[2] = {0, 0};
            while (now() < end)
                counts[one_connection(&ss, len, fam) ? 0 : 1]++;
            if (write(fds[1], counts, sizeof counts) != sizeof counts)
                _exit(1);
            _exit(0);
        }
    }
    close(fds[1]);
    long total[2] = {0, 0}, counts[2];
    while (read(fds[0], counts, sizeof counts) == sizeof counts) {
        total[0] += counts[0];
        total[1] += counts[1];
    }
    while (wait(NULL) > 0) {
    }
    printf("connections %ld %ld\n", total[0], total[1]);
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "serve") == 0) {
        signal(SIGPIPE, SIG_IGN);
        serve(argv[2], atoi(argv[3]), atoi(argv[4]));
    } else if (argc == 6 && strcmp(argv[1], "load") == 0) {
        signal(SIGPIPE, SIG_IGN);
        load(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
    } else {
        fprintf(stderr, "usage: shortconn serve IP PORT WORKERS | load IP PORT SECONDS CONC\n");
        return 2;
    }
    return 0;
}
