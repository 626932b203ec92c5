using Ipop.Samples.Hosting;
using Ipop.Samples.Hosting.Cli;

namespace Ipop.Samples.Hosting.Tests.Cli;

/// <summary>Fixed answers of a node, as the status socket would carry them, for the snapshot tests.</summary>
internal static class CliFixtures
{
    public static readonly CandidateView AliceHost = new("host", "198.18.10.2:41000");
    public static readonly CandidateView AliceSrflx = new("srflx", "198.18.0.10:41000", "198.18.0.3:3478");
    public static readonly CandidateView AliceRelay = new("relay", "198.18.0.3:49152", "198.18.0.3:3478");
    public static readonly CandidateView BobHost = new("host", "198.18.11.2:42000");
    public static readonly CandidateView BobSrflx = new("srflx", "198.18.0.11:53111", "198.18.0.3:3478");
    public static readonly CandidateView BobRelay = new("relay", "198.18.0.3:49200", "198.18.0.3:3478");

    public static StatusReport Status() => new(
        "ipop-tincan",
        "node-a",
        "ipop0",
        "tun",
        ["198.19.0.1/24"],
        [
            new PeerStatusRow("bob", string.Empty, ["198.19.0.2/32"], "Connected", "DirectServerReflexive", 1.234, 2048, 1_572_864, null),
            new PeerStatusRow("carol", string.Empty, ["198.19.0.3/32"], "Failed", "None", null, 0, 0, "Failed: ChecksTimedOut (3 pairs checked, all timed out)", DroppedReplayed: 3),
            PeerStatusRow.From(new PeerId("dave"), string.Empty, ["198.19.0.4/32"], null, null, new PeerId("bob"), 2),
        ]);

    public static IReadOnlyList<PeerView> Peers() =>
    [
        new("bob", ["198.19.0.2/32"], "Connected", "direct", "DirectServerReflexive", AliceHost, BobSrflx, null, 1.234, 2048, 1_572_864, 20, 1100, 12.7, 0.4),
        new("carol", ["198.19.0.3/32"], "Connected", "relayed", "Relayed", AliceRelay, BobSrflx, "198.18.0.3:3478", 3.5, 512, 900, 5, 9, 185, 1),
        new("dave", [], "Failed", "none", "None", null, null, null, null, 0, 0, 0, 0, null, null),
    ];

    public static WhyView RelayedBehindSymmetricNat() => new(
        "carol",
        "Connected",
        "relayed",
        AliceRelay,
        BobSrflx,
        "198.18.0.3:3478",
        null,
        null,
        [AliceHost, AliceSrflx, AliceRelay],
        [BobHost, BobSrflx, BobRelay],
        [
            new(AliceHost, BobHost, "failed", 7, 0, 0, false),
            new(AliceHost, BobSrflx, "failed", 7, 0, 0, false),
            new(AliceHost, BobRelay, "failed", 7, 0, 0, false),
            new(AliceRelay, BobSrflx, "succeeded", 2, 2, 1, true),
        ],
        false);

    public static WhyView NeverConnected() => new(
        "dave",
        "Failed",
        "none",
        null,
        null,
        null,
        "ChecksTimedOut",
        "3 pairs checked, all timed out",
        [AliceHost, AliceSrflx],
        [BobHost, BobSrflx],
        [
            new(AliceHost, BobHost, "failed", 7, 0, 0, false),
            new(AliceHost, BobSrflx, "failed", 7, 0, 4, false),
            new(AliceSrflx, BobSrflx, "failed", 0, 0, 0, false),
        ],
        false);

    public static WhyView Direct() => new(
        "bob", "Connected", "direct", AliceHost, BobSrflx, null, null, null, [AliceHost, AliceSrflx], [BobHost, BobSrflx],
        [new(AliceHost, BobSrflx, "succeeded", 1, 1, 1, true)], false);

    public static WhyView StaticPeer() => new(
        "erin", "Connecting", "none", null, null, null, "HandshakeTimedOut", "no answer from 198.18.12.2:51820", [AliceHost], [new CandidateView("host", "198.18.12.2:51820")], [], false);

    public static NetCheckView NetCheck() => new(
        "symmetric (endpoint-dependent)",
        "The two STUN servers saw different public ports: peers behind NATs will be reached through a TURN relay.",
        null,
        [
            new("stun", "198.18.0.3:3478", "198.18.0.3:3478", 1.5, "198.18.0.10:40001", null),
            new("stun", "198.18.0.4:3478", "198.18.0.4:3478", 2.25, "198.18.0.10:40002", null),
            new("stun", "stun.invalid:3478", null, null, null, "no answer within 2 s"),
            new("turn", "198.18.0.3:3478", "198.18.0.3:3478", 1.75, null, null),
        ]);
}
