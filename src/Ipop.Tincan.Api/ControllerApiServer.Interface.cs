using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Ipop.Tincan.Api.Internal;

namespace Ipop.Tincan.Api;

// The data plane the API gives a controller: the one virtual interface (interface.*) and its routing table
// (route.*), each route naming a link. The rest of the operations only read or change links; these own the NIC,
// its router and the table, and run under _mutationGate like every mutating operation.
public sealed partial class ControllerApiServer
{
    private IVirtualInterface? _nic;
    private InterfaceInfo? _nicInfo;
    private IControllerRouter? _router;
    private ImmutableSortedDictionary<string, RouteEntry> _routes = ImmutableSortedDictionary.Create<string, RouteEntry>(StringComparer.Ordinal);

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
            // The built-in routers hand Tincan the data plane's own types: it forwards between members only through them.
            _tincan.AttachInterface(nic, router switch
            {
                PrefixRouter prefixes => prefixes.Table,
                MacRouter macs => macs.Switch,
                _ => router,
            });
        }
        catch (InvalidOperationException e)
        {
            nic.Dispose();
            throw new ApiException(ApiErrorCodes.InvalidState, $"Tincan refused the interface: {e.Message}");
        }

        var info = new InterfaceInfo(nic.Name, Names.Mode(nic.Mode), nic.Mtu, nic.Index, nic.MacAddress is { } m ? Names.Mac(m) : null, [.. addresses.Select(a => a.ToString())]);
        _nic = nic;
        Volatile.Write(ref _router, router);
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
        Volatile.Write(ref _router, null);
        Volatile.Write(ref _nicInfo, null);
        Volatile.Write(ref _routes, _routes.Clear());
        Volatile.Write(ref _ringPositions, _ringPositions.Clear());
        nic.Dispose();
    }

    private Result SetRoute(ArgReader args)
    {
        RouteKind kind = ReadKind(args);
        if (kind is RouteKind.Local or RouteKind.Unreachable && Volatile.Read(ref _nicInfo) is { Mode: "tap" } tap)
        {
            // Checked before the destination: "use args.mac" would be the wrong advice for a kind a switch cannot have.
            throw ArgReader.Invalid("kind", $"'{RouteKinds.Name(kind)}' needs a tun interface; interface {tap.Name} is a tap interface, which routes by MAC address and takes kind 'direct' (pins a MAC to a link) or 'forward' (a member's MAC through a next hop) with args.mac. Its switch learns the other stations, and ring.set makes its frames cross members.");
        }

        (string key, IPNetwork? prefix, PhysicalAddress? mac) = ReadDestination(args);
        if (kind == RouteKind.Local && prefix is { } own && own.PrefixLength != (own.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32))
        {
            throw ArgReader.Invalid("prefix", "a /32 or /128 for kind 'local' (one of this node's own addresses)", ArgReader.Quote(key));
        }

        if (kind == RouteKind.Forward && mac is not null && Volatile.Read(ref _nicInfo) is { Mac: { } nicMac } nic && nicMac == key)
        {
            // Checked here rather than left to the router: the built-in switch is not told the interface's own MAC.
            throw ArgReader.Invalid("mac", $"{key} is this node's own MAC address (interface {nic.Name}'s): frames for it are delivered to the interface, so it cannot be routed through a next hop.");
        }

        PeerId? peer = null;
        ITincanLink? link = null;
        if (RouteKinds.HasPeer(kind))
        {
            if (kind == RouteKind.Forward && !args.Has("peer"))
            {
                throw ArgReader.Invalid("peer", $"the next-hop peer id (the member whose link carries {(mac is null ? "packets" : "frames")} for {key}, and which passes them on)", "nothing");
            }

            PeerId to = ReadPeer(args);
            link = _tincan.TryGetLink(to, out ITincanLink? found) ? found : throw NoLink(to);
            peer = to;
        }
        else if (args.Has("peer"))
        {
            throw ArgReader.Invalid("peer", $"a{(kind == RouteKind.Local ? " local" : "n unreachable")} prefix names no link; leave out 'peer'.");
        }

        var entry = new RouteEntry(new RouteInfo(prefix is null ? null : key, mac is null ? null : key, peer?.Value, RouteKinds.Name(kind)), kind, peer, prefix, mac);

        // A MAC has one entry here but two in a switch (a static entry and a member route, each replaced only by its
        // own kind), so the entry of the other kind is removed from the router. After the new one is in: a route the
        // router refuses then leaves the old one working, as the table still lists it.
        RouteEntry? replaced = mac is not null && _routes.TryGetValue(key, out RouteEntry? previous) && previous.Kind != kind ? previous : null;
        try
        {
            Program(entry, link);
        }
        catch (NotSupportedException e)
        {
            // A host's own router written before overlay forwarding: the interface's default members say what is missing.
            throw new ApiException(ApiErrorCodes.Unsupported, $"The host's router cannot set a route of kind '{RouteKinds.Name(kind)}': {e.Message}");
        }
        catch (ArgumentException e) when (mac is not null)
        {
            // The built-in switch pins one MAC per link (LearningSwitch.Bind) and refuses a member route for this node's
            // own MAC; its message says which and what to do.
            throw ArgReader.Invalid("mac", e.Message);
        }

        if (replaced is not null)
        {
            Unprogram(replaced);
        }

        Volatile.Write(ref _routes, _routes.SetItem(key, entry));
        return Of(new RouteResult(Describe(entry, _router)), ApiJsonContext.Wire.RouteResult);
    }

    private static RouteKind ReadKind(ArgReader args)
    {
        string expected = $"one of {string.Join(", ", RouteKinds.Accepted)}";
        string? text = args.OptionalString("kind", expected);
        return text is null ? RouteKind.Direct : RouteKinds.Parse(text) ?? throw ArgReader.Invalid("kind", expected, ArgReader.Quote(text));
    }

    private Result ListRoutes()
    {
        // Read-only: runs beside mutations, so it reads each field once; a route removed meanwhile keeps its set-time info.
        IControllerRouter? router = Volatile.Read(ref _router);
        ImmutableSortedDictionary<string, RouteEntry> routes = Volatile.Read(ref _routes);
        var list = new RouteInfo[routes.Count];
        int i = 0;
        foreach (RouteEntry route in routes.Values)
        {
            list[i++] = Describe(route, router);
        }

        return Of(new RoutesResult(list), ApiJsonContext.Wire.RoutesResult);
    }

    /// <summary>The route object, with the forwarded-packet count read now for a forward route to a prefix.</summary>
    private static RouteInfo Describe(RouteEntry route, IControllerRouter? router)
    {
        // A MAC's forward route (a member route in the switch) has no count: IControllerRouter offers none for it.
        if (route.Kind != RouteKind.Forward || route.Prefix is not { } prefix || router is null)
        {
            return route.Info;
        }

        try
        {
            // Null only when route.remove or route.set changed the prefix after our read of _routes: the listed route is gone.
            return route.Info with { ForwardedPackets = router.GetForwardedPackets(prefix) ?? 0 };
        }
        catch (NotSupportedException)
        {
            // A host's router that forwards but does not count: the field is left out rather than reported as zero.
            return route.Info;
        }
    }

    private Result RemoveRouteOp(ArgReader args)
    {
        (string key, _, _) = ReadDestination(args);
        if (!_routes.TryGetValue(key, out RouteEntry? route))
        {
            throw new ApiException(ApiErrorCodes.NotFound, $"There is no route for {key}; route.list shows the routes.");
        }

        Unprogram(route);
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

    /// <summary>Writes <paramref name="route"/> into the router; <paramref name="link"/> is <c>null</c> for local and unreachable prefixes.</summary>
    private void Program(RouteEntry route, ITincanLink? link)
    {
        IControllerRouter router = _router!;
        if (route.Mac is { } mac)
        {
            if (route.Kind == RouteKind.Forward)
            {
                router.SetMacForwardingRoute(mac, link!);
            }
            else
            {
                router.SetMacRoute(mac, link!);
            }

            return;
        }

        IPNetwork network = route.Prefix!.Value;
        switch (route.Kind)
        {
            case RouteKind.Forward:
                router.SetForwardingRoute(network, link!);
                break;
            case RouteKind.Local:
                router.SetLocal(network);
                break;
            case RouteKind.Unreachable:
                router.SetUnreachable(network);
                break;
            default:
                router.SetRoute(network, link!);
                break;
        }
    }

    /// <summary>Takes <paramref name="route"/> out of the router: a prefix's route of any kind, or a MAC's static entry or member route.</summary>
    private void Unprogram(RouteEntry route)
    {
        IControllerRouter router = _router!;
        if (route.Mac is not { } mac)
        {
            router.RemoveRoute(route.Prefix!.Value);
        }
        else if (route.Kind == RouteKind.Forward)
        {
            router.RemoveMacForwardingRoute(mac);
        }
        else
        {
            router.RemoveMacRoute(mac);
        }
    }

    /// <summary>A route as the controller set it; <see cref="Peer"/> is <c>null</c> for local and unreachable prefixes.</summary>
    private sealed record RouteEntry(RouteInfo Info, RouteKind Kind, PeerId? Peer, IPNetwork? Prefix, PhysicalAddress? Mac);
}
