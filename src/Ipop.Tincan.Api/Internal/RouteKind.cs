namespace Ipop.Tincan.Api.Internal;

/// <summary>What a route set through <c>route.set</c> is: the four entry kinds of docs/routing.md, plus the TAP switch's static entry (direct).</summary>
internal enum RouteKind
{
    /// <summary>The peer at the end of the link owns the prefix or MAC (the only kind before overlay forwarding).</summary>
    Direct,

    /// <summary>A member reached through the peer, which passes the packets on.</summary>
    Forward,

    /// <summary>This node's own address: turns forwarding on.</summary>
    Local,

    /// <summary>Covered, but no link: answered with ICMP unreachable.</summary>
    Unreachable,
}

/// <summary>The wire names of <see cref="RouteKind"/>: fixed strings, so a rename in C# cannot change the protocol.</summary>
internal static class RouteKinds
{
    /// <summary>The accepted names, in the order error messages list them.</summary>
    public static readonly string[] Accepted = ["direct", "forward", "local", "unreachable"];

    public static string Name(RouteKind kind) => kind switch
    {
        RouteKind.Forward => "forward",
        RouteKind.Local => "local",
        RouteKind.Unreachable => "unreachable",
        _ => "direct",
    };

    public static RouteKind? Parse(string name) => name switch
    {
        "direct" => RouteKind.Direct,
        "forward" => RouteKind.Forward,
        "local" => RouteKind.Local,
        "unreachable" => RouteKind.Unreachable,
        _ => null,
    };

    /// <summary>A local or unreachable prefix names no link; direct and forward routes name one.</summary>
    public static bool HasPeer(RouteKind kind) => kind is RouteKind.Direct or RouteKind.Forward;
}
