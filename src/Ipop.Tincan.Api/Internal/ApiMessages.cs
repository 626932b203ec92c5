using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ipop.Tincan.Api.Internal;

// The JSON shapes of results and events. Names are snake_case through ApiJsonContext; nulls are written
// (a field is always present) except where a record says otherwise. docs/controller-api.md shows each one.
internal sealed record VersionResult(int Protocol, string Package, int Session, string[] Ops, string[] Features);

internal sealed record SessionResult(int Session, bool Owner);

// RingPosition (tap, once ring.set gave this node one) is left out until set, as are the link object's.
internal sealed record InterfaceInfo(
    string Name,
    string Mode,
    int Mtu,
    int Index,
    string? Mac,
    string[] Addresses,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RingPosition = null);

internal sealed record InterfaceResult(InterfaceInfo? Interface);

internal sealed record RemovedResult(bool Removed);

internal sealed record DescriptorResult(JsonElement Descriptor);

internal sealed record CandidateInfo(string Type, string Addr, int Port, uint Prio, string Foundation, string? Server);

internal sealed record LinkStatsInfo(
    long BytesSent,
    long BytesReceived,
    long PacketsSent,
    long PacketsReceived,
    long PacketsForwarded,
    long BytesForwarded,
    long PacketsDropped,
    long DroppedSpoofed,
    long DroppedReplayed,
    long DroppedUnauthenticated,
    long Handshakes,
    double? RttMs,
    CandidateInfo? LocalCandidate,
    CandidateInfo? RemoteCandidate,
    DateTimeOffset? LastReceived);

internal sealed record LinkInfo(
    string Peer,
    string PeerKey,
    string State,
    string Path,
    string Reason,
    string? Detail,
    LinkStatsInfo Stats,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RingPosition = null);

internal sealed record LinkResult(LinkInfo Link);

internal sealed record LinksResult(LinkInfo[] Links);

// Peer is null (written) for local and unreachable prefixes, which name no link. ForwardedPackets is written for
// forward routes only: the count exists for them alone (RouteTable.GetForwardedPackets).
internal sealed record RouteInfo(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Prefix,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Mac,
    string? Peer,
    string Kind,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? ForwardedPackets = null);

internal sealed record RouteResult(RouteInfo Route);

internal sealed record RoutesResult(RouteInfo[] Routes);

// Peer is null (written) for this node's own position.
internal sealed record RingResult(string? Peer, string Position);

internal sealed record SentResult(bool Sent, int Bytes);

internal sealed record SubscribeResult(string[] Kinds, int? StatsIntervalMs);

internal sealed record LogLevelResult(string Level);

internal sealed record ErrorInfo(string Code, string Message);

internal sealed record StatusInfo(string State, string Path, string Reason, string? Detail);

internal sealed record LinkStateEvent(string Peer, string State, string Path, string Reason, string? Detail, StatusInfo Previous);

internal sealed record ControlMessageEvent(string Peer, string Data);

internal sealed record StatsEvent(LinkInfo[] Links);

internal sealed record LogEvent(string Level, string Category, int EventId, string Message);

internal sealed record EventsDroppedEvent(long Dropped, long Total);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(VersionResult))]
[JsonSerializable(typeof(SessionResult))]
[JsonSerializable(typeof(InterfaceResult))]
[JsonSerializable(typeof(RemovedResult))]
[JsonSerializable(typeof(DescriptorResult))]
[JsonSerializable(typeof(LinkResult))]
[JsonSerializable(typeof(LinksResult))]
[JsonSerializable(typeof(RouteResult))]
[JsonSerializable(typeof(RoutesResult))]
[JsonSerializable(typeof(RingResult))]
[JsonSerializable(typeof(SentResult))]
[JsonSerializable(typeof(SubscribeResult))]
[JsonSerializable(typeof(LogLevelResult))]
[JsonSerializable(typeof(ErrorInfo))]
[JsonSerializable(typeof(LinkStateEvent))]
[JsonSerializable(typeof(ControlMessageEvent))]
[JsonSerializable(typeof(StatsEvent))]
[JsonSerializable(typeof(LogEvent))]
[JsonSerializable(typeof(EventsDroppedEvent))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ApiJsonContext : JsonSerializerContext
{
    /// <summary>
    /// The context every message is written with. Relaxed escaping keeps base64 ('+') and non-ASCII peer ids
    /// readable; the output is never embedded in HTML, and quotes and control characters are still escaped.
    /// </summary>
    public static ApiJsonContext Wire { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
