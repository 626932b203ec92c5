using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ipop.Tincan.Api.Internal;

namespace Ipop.Tincan.Api;

// The operations of protocol version 1. Read-only operations run concurrently for any client; mutating
// operations run one at a time under _mutationGate and only for the owning session.
public sealed partial class ControllerApiServer
{
    /// <summary>Operation name to "mutates the Tincan" (needs ownership), in the order docs and <c>version</c> list them.</summary>
    private static readonly (string Name, bool Mutating)[] OperationTable =
    [
        ("version", false),
        ("echo", false),
        ("session.claim", true),
        ("session.release", false),
        ("interface.create", true),
        ("interface.query", false),
        ("interface.remove", true),
        ("descriptor.get", false),
        ("link.create", true),
        ("link.remove", true),
        ("link.query", false),
        ("link.send_control", true),
        ("route.set", true),
        ("route.remove", true),
        ("route.list", false),
        ("ring.set", true),
        ("events.subscribe", false),
        ("log.set_level", false),
    ];

    /// <summary>
    /// Additions to existing operations that a client cannot detect from <see cref="OperationNames"/>, listed by
    /// <c>version</c>: a server from before an addition ignores an argument it does not know (compatibility rules), so
    /// a controller checks here before relying on one. <c>route.kind</c>: <c>route.set</c> takes <c>kind</c>.
    /// <c>ring.position</c>: <c>ring.set</c>, and interface and link objects carry <c>ring_position</c> (a tap interface's
    /// frames cross members; before it, a controller cannot tell from <c>ops</c> alone that the objects may carry it).
    /// <c>ring.member_routes</c>: <c>route.set</c> takes <c>"kind":"forward"</c> with <c>mac</c> on a tap interface (a
    /// member's MAC through a next hop); before it, the server refuses that with <c>invalid_args</c>.
    /// </summary>
    private static readonly string[] Features = ["route.kind", "ring.position", "ring.member_routes"];

    private static readonly FrozenDictionary<string, bool> Operations = OperationTable.ToFrozenDictionary(o => o.Name, o => o.Mutating, StringComparer.Ordinal);
    private static readonly string[] OperationNames = [.. OperationTable.Select(o => o.Name)];
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    private static readonly string PackageVersion =
        (typeof(ControllerApiServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    /// <summary>The operation names of protocol version 1 (for tests and the docs).</summary>
    internal static IReadOnlyList<string> OperationNamesForTests => OperationNames;

    internal static bool IsMutating(string op) => Operations[op];

    private async ValueTask<Result> DispatchAsync(ClientConnection client, string op, ArgReader args)
    {
        if (!Operations.TryGetValue(op, out bool mutating))
        {
            throw new ApiException(ApiErrorCodes.UnknownOp, $"Unknown operation {ArgReader.Quote(op)}; protocol version {Wire.ProtocolVersion} has: {string.Join(", ", OperationNames)}.");
        }

        if (!mutating)
        {
            return await ReadAsync(client, op, args);
        }

        await _mutationGate.WaitAsync(client.Closing);
        try
        {
            ClaimOrThrow(client);
            return await MutateAsync(client, op, args);
        }
        finally
        {
            _mutationGate.Release();
        }
    }

    private async ValueTask<Result> ReadAsync(ClientConnection client, string op, ArgReader args)
    {
        switch (op)
        {
            case "version":
                return Of(new VersionResult(Wire.ProtocolVersion, PackageVersion, client.Session, OperationNames, Features), ApiJsonContext.Wire.VersionResult);
            case "echo":
                return Of(args.Raw.ValueKind == JsonValueKind.Object ? args.Raw : EmptyObject, ApiJsonContext.Wire.JsonElement);
            case "session.release":
                if (Interlocked.CompareExchange(ref _owner, null, client) == client)
                {
                    ApiLog.OwnerReleased(_logger, client.Session);
                }

                return Of(new SessionResult(client.Session, false), ApiJsonContext.Wire.SessionResult);
            case "interface.query":
                return Of(new InterfaceResult(Volatile.Read(ref _nicInfo)), ApiJsonContext.Wire.InterfaceResult);
            case "descriptor.get":
                LinkDescriptor descriptor = await _tincan.GetLocalDescriptorAsync(client.Closing);
                using (JsonDocument json = JsonDocument.Parse(descriptor.ToJson()))
                {
                    return Of(new DescriptorResult(json.RootElement.Clone()), ApiJsonContext.Wire.DescriptorResult);
                }

            case "link.query":
                return QueryLinks(args);
            case "route.list":
                return ListRoutes();
            case "events.subscribe":
                return Subscribe(client, args);
            case "log.set_level":
                return SetLogLevel(client, args);
            default:
                throw new InvalidOperationException($"Operation {op} is listed but has no handler.");
        }
    }

    private async ValueTask<Result> MutateAsync(ClientConnection client, string op, ArgReader args) => op switch
    {
        "session.claim" => Of(new SessionResult(client.Session, true), ApiJsonContext.Wire.SessionResult),
        "interface.create" => CreateInterface(args),
        "interface.remove" => await RemoveInterfaceOpAsync(),
        "link.create" => CreateLink(args),
        "link.remove" => RemoveLink(args),
        "link.send_control" => SendControl(args),
        "route.set" => SetRoute(args),
        "route.remove" => RemoveRouteOp(args),
        "ring.set" => SetRingPosition(args),
        _ => throw new InvalidOperationException($"Operation {op} is listed but has no handler."),
    };

    /// <summary>
    /// The ownership rule: the first session to mutate (or claim) controls the Tincan until it disconnects or
    /// releases; two controllers issuing conflicting link and route changes would otherwise undo each other.
    /// </summary>
    private void ClaimOrThrow(ClientConnection client)
    {
        ClientConnection? owner = Interlocked.CompareExchange(ref _owner, client, null);
        if (owner is null)
        {
            ApiLog.OwnerClaimed(_logger, client.Session);
            return;
        }

        if (owner != client)
        {
            throw new ApiException(
                ApiErrorCodes.NotOwner,
                $"Session {owner.Session} controls this Tincan; session {client.Session} may use read-only operations and events until that session disconnects or sends session.release.");
        }
    }

    private Result CreateLink(ArgReader args)
    {
        PeerId peer = ReadPeer(args);
        if (!args.TryGet("descriptor", out JsonElement element) || element.ValueKind is not (JsonValueKind.Object or JsonValueKind.String))
        {
            throw ArgReader.Invalid("descriptor", "the peer's link descriptor (the object descriptor.get returns on the peer, or that object as a JSON string)", args.TryGet("descriptor", out JsonElement got) ? ArgReader.Describe(got) : "nothing");
        }

        LinkDescriptor remote;
        try
        {
            remote = LinkDescriptor.Parse(element.ValueKind == JsonValueKind.String ? ArgReader.Text(element, "args.descriptor") : element.GetRawText());
        }
        catch (FormatException e)
        {
            throw ArgReader.Invalid("descriptor", e.Message);
        }

        if (remote.Key == _tincan.LocalKey)
        {
            throw ArgReader.Invalid("descriptor.key", "is this node's own key; pass the descriptor that descriptor.get returned on the peer.");
        }

        _tincan.TryGetLink(peer, out ITincanLink? previous);
        ITincanLink link = _tincan.CreateLink(peer, remote);
        if (previous is not null && !ReferenceEquals(previous, link))
        {
            // Re-creating a link may give a new link object; routes must follow it or traffic to the peer stops.
            _router?.RemoveRoutes(previous);
            foreach (RouteEntry route in _routes.Values.Where(r => r.Peer == peer))
            {
                Program(route, link);
            }

            ReapplyRingPosition(peer, link);
        }

        return Of(new LinkResult(Describe(link)), ApiJsonContext.Wire.LinkResult);
    }

    private Result RemoveLink(ArgReader args)
    {
        PeerId peer = ReadPeer(args);
        if (!_tincan.TryGetLink(peer, out ITincanLink? link))
        {
            throw NoLink(peer);
        }

        _router?.RemoveRoutes(link);
        Volatile.Write(ref _routes, _routes.RemoveRange(_routes.Where(r => r.Value.Peer == peer).Select(r => r.Key)));
        Volatile.Write(ref _ringPositions, _ringPositions.Remove(peer.Value));
        return Of(new RemovedResult(_tincan.RemoveLink(peer)), ApiJsonContext.Wire.RemovedResult);
    }

    private Result QueryLinks(ArgReader args)
    {
        if (!args.Has("peer"))
        {
            return Of(new LinksResult(AllLinks()), ApiJsonContext.Wire.LinksResult);
        }

        PeerId peer = ReadPeer(args);
        return _tincan.TryGetLink(peer, out ITincanLink? link) ? Of(new LinkResult(Describe(link)), ApiJsonContext.Wire.LinkResult) : throw NoLink(peer);
    }

    private LinkInfo[] AllLinks() => [.. _tincan.Links.OrderBy(l => l.Peer.Value, StringComparer.Ordinal).Select(Describe)];

    private Result SendControl(ArgReader args)
    {
        PeerId peer = ReadPeer(args);
        string data = args.RequiredString("data", "the message as standard base64");
        byte[] buffer = new byte[(data.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(data, buffer, out int length) || length == 0)
        {
            throw ArgReader.Invalid("data", "the message as standard base64 of at least one byte", ArgReader.Quote(data));
        }

        if (!_tincan.TryGetLink(peer, out ITincanLink? link))
        {
            throw NoLink(peer);
        }

        if (link.Status.State != LinkState.Connected)
        {
            throw new ApiException(ApiErrorCodes.LinkNotConnected, $"The link to {ArgReader.Quote(peer.Value)} is {Names.State(link.Status.State)}; control messages need a connected link.");
        }

        if (!link.TrySendControl(buffer.AsSpan(0, length)))
        {
            throw new ApiException(ApiErrorCodes.SendFailed, $"The link to {ArgReader.Quote(peer.Value)} did not take the {length}-byte control message (too large for one control frame, or the link just went down).");
        }

        return Of(new SentResult(true, length), ApiJsonContext.Wire.SentResult);
    }

    private Result Subscribe(ClientConnection client, ArgReader args)
    {
        if (!args.Has("kinds"))
        {
            throw ArgReader.Invalid("kinds", $"an array of event kinds from {string.Join(", ", EventKindNames.Subscribable)} (empty to unsubscribe)", "nothing");
        }

        IReadOnlyList<string> names = args.OptionalStringArray("kinds", 8, $"one of {string.Join(", ", EventKindNames.Subscribable)}");
        EventKinds kinds = EventKinds.None;
        for (int i = 0; i < names.Count; i++)
        {
            kinds |= EventKindNames.Parse(names[i]) ?? throw ArgReader.Invalid($"kinds[{i}]", $"one of {string.Join(", ", EventKindNames.Subscribable)}", ArgReader.Quote(names[i]));
        }

        int minMs = (int)Math.Ceiling(_options.MinStatsInterval.TotalMilliseconds);
        int intervalMs = args.OptionalInt("stats_interval_ms", Math.Max(5000, minMs), minMs, 3_600_000);
        client.Subscriptions = kinds;
        RecomputeLogThreshold();
        client.ReplaceStatsLoop((kinds & EventKinds.Stats) != 0 ? ct => StatsLoopAsync(client, TimeSpan.FromMilliseconds(intervalMs), ct) : null);
        return Of(new SubscribeResult(EventKindNames.Names(kinds), (kinds & EventKinds.Stats) != 0 ? intervalMs : null), ApiJsonContext.Wire.SubscribeResult);
    }

    private Result SetLogLevel(ClientConnection client, ArgReader args)
    {
        string text = args.RequiredString("level", $"one of {string.Join(", ", LogLevels.Accepted)}");
        client.LogLevel = LogLevels.Parse(text) ?? throw ArgReader.Invalid("level", $"one of {string.Join(", ", LogLevels.Accepted)}", ArgReader.Quote(text));
        RecomputeLogThreshold();
        return Of(new LogLevelResult(LogLevels.Name(client.LogLevel)), ApiJsonContext.Wire.LogLevelResult);
    }

    private static PeerId ReadPeer(ArgReader args)
    {
        const string Expected = "a peer id: 1..1024 characters without control characters (e.g. alice@lab.test/ipop-3f2a)";
        string text = args.RequiredString("peer", Expected);
        if (string.IsNullOrWhiteSpace(text) || text.Length > PeerId.MaxLength || text.Any(char.IsControl))
        {
            throw ArgReader.Invalid("peer", Expected, ArgReader.Quote(text));
        }

        return new PeerId(text);
    }

    private static ApiException NoLink(PeerId peer) =>
        new(ApiErrorCodes.NotFound, $"args.peer: there is no link to {ArgReader.Quote(peer.Value)}; link.create makes one.");

    private LinkInfo Describe(ITincanLink link)
    {
        LinkStatus status = link.Status;
        LinkStats s = link.GetStats();
        var stats = new LinkStatsInfo(
            s.BytesSent,
            s.BytesReceived,
            s.PacketsSent,
            s.PacketsReceived,
            s.PacketsForwarded,
            s.BytesForwarded,
            s.PacketsDropped,
            s.DroppedSpoofed,
            s.DroppedReplayed,
            s.DroppedUnauthenticated,
            s.Handshakes,
            s.RoundTripTime is { } rtt ? Math.Round(rtt.TotalMilliseconds, 3) : null,
            Describe(s.LocalCandidate),
            Describe(s.RemoteCandidate),
            s.LastReceived);
        return new LinkInfo(link.Peer.Value, link.PeerKey.ToString(), Names.State(status.State), Names.Path(status.Path), Names.Reason(status.Reason), status.Detail, stats, RingPositionOf(link.Peer));
    }

    private static CandidateInfo? Describe(Candidate? c) =>
        c is null ? null : new CandidateInfo(Names.Candidate(c.Type), c.EndPoint.Address.ToString(), c.EndPoint.Port, c.Priority, c.Foundation, c.Server);

    private static Result Of<T>(T value, JsonTypeInfo<T> typeInfo)
        where T : notnull => new(value, typeInfo);

    private readonly record struct Result(object Value, JsonTypeInfo TypeInfo);
}
