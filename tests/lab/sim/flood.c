/* New-flow UDP flood for `make bench`: every datagram goes from one of a few sockets to
 * the next destination port, so each opens a new flow and is queued to ftwall. Sends
 * batches with sendmmsg so the sender is not what limits the measurement.
 * Usage: flood HOST SECONDS; prints "sent N".  GPL-2.0-or-later. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SOCKS 8
#define BATCH 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: flood HOST SECONDS\n");
        return 2;
    }
    struct sockaddr_storage dst[BATCH];
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    int v6 = inet_pton(AF_INET6, argv[1], &a6.sin6_addr) == 1;
    if (!v6 && inet_pton(AF_INET, argv[1], &a4.sin_addr) != 1) {
        fprintf(stderr, "flood: bad address %s\n", argv[1]);
        return 2;
    }
    int socks[SOCKS];
    for (int i = 0; i < SOCKS; i++) {
        socks[i] = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
        if (socks[i] < 0) {
            perror("socket");
            return 1;
        }
    }
    char payload[32] = {0};
    struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload};
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    unsigned port = 1024;
    long long sent = 0;
    double end = now() + atof(argv[2]);
    while (now() < end) {
        for (int s = 0; s < SOCKS; s++) {
            for (int i = 0; i < BATCH; i++) {
                port = port < 65535 ? port + 1 : 1024;
                if (v6) {
                    a6.sin6_port = htons(port);
                    memcpy(&dst[i], &a6, sizeof a6);
                } else {
                    a4.sin_port = htons(port);
                    memcpy(&dst[i], &a4, sizeof a4);
                }
                msgs[i].msg_hdr.msg_name = &dst[i];
                msgs[i].msg_hdr.msg_namelen = v6 ? sizeof a6 : sizeof a4;
                msgs[i].msg_hdr.msg_iov = &iov;
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            int n = sendmmsg(socks[s], msgs, BATCH, 0);
            if (n > 0)
                sent += n;
        }
    }
    printf("sent %lld\n", sent);
    return 0;
}
