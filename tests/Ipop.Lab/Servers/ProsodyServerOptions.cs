namespace Ipop.Lab.Servers;

/// <summary>Where and how a private prosody listens.</summary>
public sealed class ProsodyServerOptions
{
    /// <summary>IP address prosody binds c2s to (default 127.0.0.1; e.g. 198.18.0.100 inside a lab namespace).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Run inside this network namespace (<c>ip netns exec NS</c>); null for the current one.</summary>
    public string? NetworkNamespace { get; set; }

    /// <summary>c2s port; a free one is picked when null.</summary>
    public int? Port { get; set; }

    /// <summary>The XMPP domain (default lab.test); the MUC component is conference.&lt;domain&gt;.</summary>
    public string Domain { get; set; } = "lab.test";

    /// <summary>
    /// Server-to-server federation (XEP-0220 dialback over STARTTLS with the self-signed certificate, s2s on port
    /// <see cref="S2sPort"/>): the other servers' domains (and their MUC components) and the addresses they listen on.
    /// The lab has no DNS, and prosody without lua-unbound ignores /etc/hosts, so these are static routes (a small
    /// prosody module the server writes, see <see cref="ProsodyServer"/>). Empty: no s2s at all (the default).
    /// </summary>
    public IDictionary<string, string> S2sRoutes { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The s2s port this server listens on and its routes connect to (default 5269).</summary>
    public int S2sPort { get; set; } = 5269;

    /// <summary>Bound on waiting for the port to accept connections (default 15 s).</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(15);
}
