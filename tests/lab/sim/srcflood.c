/* Distinct-source flood for `make bench` (memory under flood): COUNT IPv6 UDP datagrams,
 * each a FastTrack ping (the 12-byte 0x27 ping of p2p-signatures.md) from a different LAN
 * source address fd77:77::/64 to a different peer in 2001:db8:8000::/33, so every one
 * names a new client, a new peer and a new flow. Sent as Ethernet frames (AF_PACKET) to
 * the router's MAC, paced at RATE packets/s (0 = as fast as possible).
 *   srcflood IFACE ROUTER_MAC COUNT RATE FIRST   (prints "sent N")
 * FIRST numbers the first packet, so separate runs use separate addresses.
 * GPL-2.0-or-later. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const uint8_t PING[12] = {0x27, 0x00, 0x00, 0x00, 0x29, 0x80, 'K', 'a', 'Z', 'a', 'A', 0x00};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A 64-bit mix so that neighbouring numbers give unrelated interface ids. */
static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint16_t udp6_checksum(const uint8_t *ip6, const uint8_t *udp, size_t len) {
    uint32_t sum = 0;
    for (int i = 8; i < 40; i += 2) /* source and destination addresses */
        sum += (ip6[i] << 8) | ip6[i + 1];
    sum += (uint32_t)len + 17;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (udp[i] << 8) | udp[i + 1];
    if (len & 1)
        sum += udp[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = ~sum & 0xffff;
    return c ? c : 0xffff;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: srcflood IFACE ROUTER_MAC COUNT RATE FIRST\n");
        return 2;
    }
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IPV6), .sll_halen = 6};
    to.sll_ifindex = if_nametoindex(argv[1]);
    unsigned m[6];
    if (!to.sll_ifindex || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
        fprintf(stderr, "srcflood: bad interface or MAC\n");
        return 2;
    }
    for (int i = 0; i < 6; i++)
        to.sll_addr[i] = m[i];
    long long count = atoll(argv[3]);
    double rate = atof(argv[4]);
    uint64_t first = strtoull(argv[5], NULL, 10);
    int s = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IPV6));
    if (s < 0) {
        perror("socket");
        return 1;
    }
    uint8_t pkt[40 + 8 + sizeof PING];
    memset(pkt, 0, sizeof pkt);
    pkt[0] = 0x60;
    pkt[4] = 0;
    pkt[5] = 8 + sizeof PING;
    pkt[6] = 17;
    pkt[7] = 64;
    const uint8_t src_prefix[8] = {0xfd, 0x77, 0x00, 0x77, 0, 0, 0, 0};
    const uint8_t dst_prefix[8] = {0x20, 0x01, 0x0d, 0xb8, 0x80, 0, 0, 0};
    uint8_t *udp = pkt + 40;
    memcpy(udp + 8, PING, sizeof PING);
    long long sent = 0;
    double start = now();
    for (long long i = 0; i < count; i++) {
        uint64_t n = first + (uint64_t)i;
        uint64_t iid = mix(n) | 0x0200000000000000ULL; /* never ::1, ::11, ::12 */
        memcpy(pkt + 8, src_prefix, 8);
        for (int b = 0; b < 8; b++)
            pkt[16 + b] = iid >> (56 - 8 * b);
        memcpy(pkt + 24, dst_prefix, 8);
        for (int b = 0; b < 8; b++)
            pkt[32 + b] = (n + 1) >> (56 - 8 * b);
        uint16_t sport = 1024 + n % 60000;
        udp[0] = sport >> 8;
        udp[1] = sport & 0xff;
        udp[2] = 1214 >> 8;
        udp[3] = 1214 & 0xff;
        udp[4] = 0;
        udp[5] = 8 + sizeof PING;
        udp[6] = udp[7] = 0;
        uint16_t c = udp6_checksum(pkt, udp, 8 + sizeof PING);
        udp[6] = c >> 8;
        udp[7] = c & 0xff;
        if (sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof pkt)
            sent++;
        if (rate > 0 && (i & 63) == 63) {
            double ahead = (i + 1) / rate - (now() - start);
            if (ahead > 0)
                usleep((useconds_t)(ahead * 1e6));
        }
    }
    printf("sent %lld\n", sent);
    return 0;
}
