using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ipop.Tincan.Api.Internal;
using Microsoft.Extensions.Logging;

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
        ("events.subscribe", false),
        ("log.set_level", false),
    ];

    private static readonly FrozenDictionary<string, bool> Operations = OperationTable.ToFrozenDictionary(o => o.Name, o => o.Mutating, StringComparer.Ordinal);
    private static readonly string[] OperationNames = [.. OperationTable.Select(o => o.Name)];
    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();

    private static readonly string PackageVersion =
        (typeof(ControllerApiServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    private IVirtualInterface? _nic;
    private InterfaceInfo? _nicInfo;
    private IControllerRouter? _router;
    private ImmutableSortedDictionary<string, RouteEntry> _routes = ImmutableSortedDictionary.Create<string, RouteEntry>(StringComparer.Ordinal);

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
                return Of(new VersionResult(Wire.ProtocolVersion, PackageVersion, client.Session, OperationNames), ApiJsonContext.Wire.VersionResult);
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
                return Of(new RoutesResult([.. Volatile.Read(ref _routes).Values.Select(r => r.Info)]), ApiJsonContext.Wire.RoutesResult);
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

    private Result CreateInterface(ArgReader args)
    {
        string name = args.OptionalString("name", "an interface name of 1..15 characters from [A-Za-z0-9._-]") ?? string.Empty;
        if (name.Length > 15 || name is "." or ".." || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')))
        {
            throw ArgReader.Invalid("name", "an interface name of 1..15 characters from [A-Za-z0-9._-] (Linux IFNAMSIZ)", ArgReader.Quote(name));
        }

        string modeText = args.OptionalString("mode", "\"tun\" or \"tap\"") ?? "tun";
        VirtualInterfaceMode mode = modeText switch
        {
            "tun" => VirtualInterfaceMode.Tun,
            "tap" => VirtualInterfaceMode.Tap,
            _ => throw ArgReader.Invalid("mode", "\"tun\" or \"tap\"", ArgReader.Quote(modeText)),
        };
        int mtu = args.OptionalInt("mtu", VirtualInterfaceOptions.DefaultMtu, 576, 65535);
        var addresses = new List<InterfaceAddress>();
        IReadOnlyList<string> addressTexts = args.OptionalStringArray("addresses", 16, "an address with prefix length such as 198.19.0.1/16");
        for (int i = 0; i < addressTexts.Count; i++)
        {
            if (!InterfaceAddress.TryParse(addressTexts[i], out InterfaceAddress address))
            {
                throw ArgReader.Invalid($"addresses[{i}]", "an address with prefix length such as 198.19.0.1/16 or 2001:2::1/64", ArgReader.Quote(addressTexts[i]));
            }

            addresses.Add(address);
        }

        PhysicalAddress? mac = null;
        if (args.OptionalString("mac", "a MAC address such as 02:00:5e:00:53:01") is { } macText)
        {
            if (mode != VirtualInterfaceMode.Tap)
            {
                throw ArgReader.Invalid("mac", "only a tap interface has a MAC address; remove 'mac' or set \"mode\":\"tap\".");
            }

            if (!Names.TryParseMac(macText, out PhysicalAddress parsed) || (parsed.GetAddressBytes()[0] & 1) != 0 || parsed.GetAddressBytes().All(b => b == 0))
            {
                throw ArgReader.Invalid("mac", "a unicast MAC address such as 02:00:5e:00:53:01", ArgReader.Quote(macText));
            }

            mac = parsed;
        }

        bool up = args.OptionalBool("up", true);
        if (_interfaces is null)
        {
            throw new ApiException(ApiErrorCodes.Unsupported, "This Tincan host manages its interface itself (no IVirtualInterfaceFactory is registered); interface.create is not available.");
        }

        if (_nicInfo is { } existing)
        {
            throw new ApiException(ApiErrorCodes.Conflict, $"Interface {existing.Name} exists already; a Tincan serves one interface. Call interface.remove first.");
        }

        IVirtualInterface nic;
        try
        {
            nic = _interfaces.Create(new VirtualInterfaceOptions { Name = name, Mode = mode, Mtu = mtu, Addresses = addresses, MacAddress = mac, Up = up });
        }
        catch (VirtualInterfaceException e)
        {
            throw new ApiException(ApiErrorCodes.InterfaceError, $"The interface could not be created: {e.Message}");
        }

        IControllerRouter router = _routers.Create(mode);
        try
        {
            _tincan.AttachInterface(nic, router);
        }
        catch (InvalidOperationException e)
        {
            nic.Dispose();
            throw new ApiException(ApiErrorCodes.InvalidState, $"Tincan refused the interface: {e.Message}");
        }

        var info = new InterfaceInfo(nic.Name, Names.Mode(nic.Mode), nic.Mtu, nic.Index, nic.MacAddress is { } m ? Names.Mac(m) : null, [.. addresses.Select(a => a.ToString())]);
        _nic = nic;
        _router = router;
        Volatile.Write(ref _nicInfo, info);
        return Of(new InterfaceResult(info), ApiJsonContext.Wire.InterfaceResult);
    }

    private async ValueTask<Result> RemoveInterfaceOpAsync()
    {
        if (_nic is null)
        {
            throw new ApiException(ApiErrorCodes.NotFound, "There is no interface to remove; interface.create makes one.");
        }

        await RemoveInterfaceAsync(CancellationToken.None);
        return Of(new RemovedResult(true), ApiJsonContext.Wire.RemovedResult);
    }

    /// <summary>
    /// Detaches the NIC from Tincan, then disposes it (removing the device) and forgets its routes; called under
    /// the gate. Links stay. Not cancelled by the client going away: a half-removed interface (detached but still
    /// present) would block the next interface.create; the wait is bounded by the NIC's read cancellation.
    /// </summary>
    private async ValueTask RemoveInterfaceAsync(CancellationToken cancellationToken)
    {
        IVirtualInterface? nic = _nic;
        if (nic is null)
        {
            return;
        }

        // Detach first: once it completes Tincan no longer reads, writes or routes through this NIC, so disposing
        // it cannot race a write into a closed device.
        await _tincan.DetachInterfaceAsync(cancellationToken);
        _nic = null;
        _router = null;
        Volatile.Write(ref _nicInfo, null);
        Volatile.Write(ref _routes, _routes.Clear());
        nic.Dispose();
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

    private Result SetRoute(ArgReader args)
    {
        PeerId peer = ReadPeer(args);
        (string key, IPNetwork? prefix, PhysicalAddress? mac) = ReadDestination(args);
        if (!_tincan.TryGetLink(peer, out ITincanLink? link))
        {
            throw NoLink(peer);
        }

        var info = new RouteInfo(prefix is null ? null : key, mac is null ? null : key, peer.Value);
        var entry = new RouteEntry(info, peer, prefix, mac);
        Program(entry, link);
        Volatile.Write(ref _routes, _routes.SetItem(key, entry));
        return Of(new RouteResult(info), ApiJsonContext.Wire.RouteResult);
    }

    private Result RemoveRouteOp(ArgReader args)
    {
        (string key, IPNetwork? prefix, PhysicalAddress? mac) = ReadDestination(args);
        if (!_routes.ContainsKey(key))
        {
            throw new ApiException(ApiErrorCodes.NotFound, $"There is no route for {key}; route.list shows the routes.");
        }

        if (prefix is { } network)
        {
            _router!.RemoveRoute(network);
        }
        else
        {
            _router!.RemoveMacRoute(mac!);
        }

        Volatile.Write(ref _routes, _routes.Remove(key));
        return Of(new RemovedResult(true), ApiJsonContext.Wire.RemovedResult);
    }

    /// <summary>Reads exactly one of <c>prefix</c> (TUN) or <c>mac</c> (TAP) and checks it fits the interface.</summary>
    private (string Key, IPNetwork? Prefix, PhysicalAddress? Mac) ReadDestination(ArgReader args)
    {
        bool hasPrefix = args.Has("prefix");
        bool hasMac = args.Has("mac");
        if (hasPrefix == hasMac)
        {
            throw new ApiException(ApiErrorCodes.InvalidArgs, hasPrefix
                ? "args: give either 'prefix' (tun) or 'mac' (tap), not both."
                : "args.prefix: expected a prefix such as 198.19.0.2/32 (tun interface), or give args.mac such as 02:00:5e:00:53:01 (tap interface); got neither.");
        }

        InterfaceInfo nic = Volatile.Read(ref _nicInfo)
            ?? throw new ApiException(ApiErrorCodes.InvalidState, "There is no interface yet; routes belong to an interface, so call interface.create first.");
        if (hasPrefix)
        {
            string text = args.RequiredString("prefix", "a prefix such as 198.19.0.2/32 or 2001:2::/64");
            // IPNetwork.TryParse silently clears host bits; a route for 198.19.0.1/16 is almost always a typo for /32.
            if (text.IndexOf('/', StringComparison.Ordinal) < 0 || !InterfaceAddress.TryParse(text, out InterfaceAddress parsed) || !parsed.Address.Equals(parsed.Network.BaseAddress))
            {
                throw ArgReader.Invalid("prefix", "a prefix with zero host bits such as 198.19.0.2/32, 198.19.0.0/16 or 2001:2::/64", ArgReader.Quote(text));
            }

            if (nic.Mode != "tun")
            {
                throw ArgReader.Invalid("prefix", $"interface {nic.Name} is a tap interface, which routes by MAC address; use args.mac.");
            }

            IPNetwork network = parsed.Network;
            return (network.ToString(), network, null);
        }

        string macText = args.RequiredString("mac", "a MAC address such as 02:00:5e:00:53:01");
        if (!Names.TryParseMac(macText, out PhysicalAddress mac) || (mac.GetAddressBytes()[0] & 1) != 0)
        {
            throw ArgReader.Invalid("mac", "a unicast MAC address such as 02:00:5e:00:53:01", ArgReader.Quote(macText));
        }

        if (nic.Mode != "tap")
        {
            throw ArgReader.Invalid("mac", $"interface {nic.Name} is a tun interface, which routes by IP prefix; use args.prefix.");
        }

        return (Names.Mac(mac), null, mac);
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

    private static LinkInfo Describe(ITincanLink link)
    {
        LinkStatus status = link.Status;
        LinkStats s = link.GetStats();
        var stats = new LinkStatsInfo(
            s.BytesSent,
            s.BytesReceived,
            s.PacketsSent,
            s.PacketsReceived,
            s.PacketsDropped,
            s.DroppedSpoofed,
            s.DroppedReplayed,
            s.DroppedUnauthenticated,
            s.Handshakes,
            s.RoundTripTime is { } rtt ? Math.Round(rtt.TotalMilliseconds, 3) : null,
            Describe(s.LocalCandidate),
            Describe(s.RemoteCandidate),
            s.LastReceived);
        return new LinkInfo(link.Peer.Value, link.PeerKey.ToString(), Names.State(status.State), Names.Path(status.Path), Names.Reason(status.Reason), status.Detail, stats);
    }

    private static CandidateInfo? Describe(Candidate? c) =>
        c is null ? null : new CandidateInfo(Names.Candidate(c.Type), c.EndPoint.Address.ToString(), c.EndPoint.Port, c.Priority, c.Foundation, c.Server);

    private static Result Of<T>(T value, JsonTypeInfo<T> typeInfo)
        where T : notnull => new(value, typeInfo);

    private readonly record struct Result(object Value, JsonTypeInfo TypeInfo);

    private void Program(RouteEntry route, ITincanLink link)
    {
        if (route.Prefix is { } network)
        {
            _router!.SetRoute(network, link);
        }
        else
        {
            _router!.SetMacRoute(route.Mac!, link);
        }
    }

    private sealed record RouteEntry(RouteInfo Info, PeerId Peer, IPNetwork? Prefix, PhysicalAddress? Mac);
}
