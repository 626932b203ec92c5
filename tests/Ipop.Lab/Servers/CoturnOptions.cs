using System.Net;

namespace Ipop.Lab.Servers;

/// <summary>How to start a <see cref="CoturnServer"/>. Defaults: 127.0.0.1, free ports, user u:p in realm lab.test.</summary>
public sealed record CoturnOptions
{
    public string Executable { get; init; } = "turnserver";

    public IPAddress ListenAddress { get; init; } = IPAddress.Loopback;

    /// <summary>Relay address (defaults to the listen address).</summary>
    public IPAddress? RelayAddress { get; init; }

    /// <summary>Listening port; null picks a free one (or 3478 inside a namespace).</summary>
    public int? Port { get; init; }

    /// <summary>Relay port range; null picks a free run of 20 ports.</summary>
    public (int Min, int Max)? RelayPorts { get; init; }

    public string Realm { get; init; } = "lab.test";

    /// <summary>Static long-term users (ignored when <see cref="StaticAuthSecret"/> is set).</summary>
    public IReadOnlyList<(string User, string Password)> Users { get; init; } = [("u", "p")];

    /// <summary>REST-API shared secret (<c>--use-auth-secret --static-auth-secret</c>).</summary>
    public string? StaticAuthSecret { get; init; }

    /// <summary>coturn refuses relaying to 127.0.0.0/8 unless told otherwise.</summary>
    public bool AllowLoopbackPeers { get; init; } = true;

    public TimeSpan? MaxAllocateLifetime { get; init; }

    /// <summary>Nonce lifetime (<c>--stale-nonce=N</c>); null keeps coturn's default.</summary>
    public TimeSpan? StaleNonce { get; init; }

    /// <summary>Run inside this network namespace (<c>ip netns exec</c>); readiness then comes from the log.</summary>
    public string? NetworkNamespace { get; init; }

    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
