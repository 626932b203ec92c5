using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ipop.Samples.Hosting.Cli;

/// <summary>
/// One request line on the status socket: <c>{"command":"peers"}</c>, <c>{"command":"ping","peer":"bob","timeoutMs":1000}</c>.
/// Commands: <c>status</c>, <c>peers</c>, <c>ping</c>, <c>why</c>, <c>netcheck</c>.
/// </summary>
internal sealed record CliRequest(string? Command, string? Peer = null, int? TimeoutMs = null);

/// <summary>
/// One response line: exactly one of the payloads, or <see cref="Error"/> (one line naming what is wrong).
/// <see cref="Protocol"/> is always set, so a client can tell this protocol from any other JSON.
/// </summary>
internal sealed record CliResponse(
    string Protocol,
    string? Error = null,
    StatusReport? Status = null,
    IReadOnlyList<PeerView>? Peers = null,
    PingView? Ping = null,
    WhyView? Why = null,
    NetCheckView? NetCheck = null)
{
    /// <summary>The protocol's name and version, in every response.</summary>
    public const string Name = "ipop-status/1";

    public static CliResponse Failure(string error) => new(Name, Error: error);
}

/// <summary>A candidate as the CLI shows it: <c>host</c>/<c>srflx</c>/<c>prflx</c>/<c>relay</c>, its address and server.</summary>
internal sealed record CandidateView(string Type, string Address, string? Server = null)
{
    public static CandidateView? From(Candidate? c) => c is null ? null : new(TypeName(c.Type), c.EndPoint.ToString(), c.Server);

    public static string TypeName(CandidateType type) => type switch
    {
        CandidateType.Host => "host",
        CandidateType.ServerReflexive => "srflx",
        CandidateType.PeerReflexive => "prflx",
        _ => "relay",
    };

    public override string ToString() => $"{Type} {Address}";
}

/// <summary>One row of <c>peers</c>.</summary>
internal sealed record PeerView(
    string Peer,
    IReadOnlyList<string> Addresses,
    string State,
    string Path,
    string PathKind,
    CandidateView? Local,
    CandidateView? Remote,
    string? TurnServer,
    double? RttMs,
    long BytesSent,
    long BytesReceived,
    long PacketsSent,
    long PacketsReceived,
    double? HandshakeAgeSeconds,
    double? LastReceivedAgeSeconds);

/// <summary>One echo of <c>ping</c>.</summary>
internal sealed record PingView(string Peer, bool Replied, double? RttMs, string Path, CandidateView? Local, CandidateView? Remote, string? TurnServer, string? Error);

/// <summary>One candidate pair's checks in <c>why</c>.</summary>
internal sealed record PairCheckView(CandidateView Local, CandidateView Remote, string Outcome, int Sent, int Answered, int PeerChecks, bool Selected);

/// <summary>What <c>why PEER</c> shows.</summary>
internal sealed record WhyView(
    string Peer,
    string State,
    string Path,
    CandidateView? Local,
    CandidateView? Remote,
    string? TurnServer,
    string? LastFailure,
    string? LastFailureDetail,
    IReadOnlyList<CandidateView> LocalCandidates,
    IReadOnlyList<CandidateView> RemoteCandidates,
    IReadOnlyList<PairCheckView> Checks,
    bool ChecksRunning);

/// <summary>One server in <c>netcheck</c>.</summary>
internal sealed record NetCheckServerView(string Kind, string Server, string? Address, double? LatencyMs, string? MappedAddress, string? Error);

/// <summary>What <c>netcheck</c> shows.</summary>
internal sealed record NetCheckView(string Mapping, string MappingDetail, bool? Ipv6Reachable, IReadOnlyList<NetCheckServerView> Servers);

/// <summary>Every type on the status socket, serialized without reflection (the hosts are Native AOT).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(CliRequest))]
[JsonSerializable(typeof(CliResponse))]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(IReadOnlyList<PeerView>))]
[JsonSerializable(typeof(PingView))]
[JsonSerializable(typeof(WhyView))]
[JsonSerializable(typeof(NetCheckView))]
internal sealed partial class CliJson : JsonSerializerContext;
