namespace Ipop.Lab.Servers;

/// <summary>Where and how a private ejabberd listens.</summary>
public sealed class EjabberdServerOptions
{
    /// <summary>IP address ejabberd binds its c2s and HTTP API listeners to (default 127.0.0.1).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>The XMPP domain (default lab.test); the MUC service is conference.&lt;domain&gt;.</summary>
    public string Domain { get; set; } = "lab.test";

    /// <summary>
    /// ejabberd's <c>auth_scram_hash</c>: <c>sha256</c> (default; SCRAM-SHA-256 is offered) or <c>sha</c>
    /// (SCRAM-SHA-1, ejabberd's own default), <c>sha512</c>.
    /// </summary>
    public string ScramHash { get; set; } = "sha256";

    /// <summary>Bound on waiting until both listeners accept connections (default 60 s).</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
