using System.Net;
using Ipop.Lab.Namespaces;
using Ipop.Lab.Servers;

namespace Ipop.IntegrationTests.Infrastructure;

/// <summary>
/// The lab for the products: an internet (198.18.0.0/24) with a private prosody (198.18.0.100, TLS, SCRAM, MUC)
/// and coturn (198.18.0.3), one public host, and hosts behind a cone NAT and a symmetric NAT. Accounts are
/// created per test with <see cref="RegisterAsync"/>.
/// </summary>
public sealed class OverlayLabFixture : IAsyncLifetime
{
    public NetworkLab Lab { get; } = new();

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("ipop-overlay-").FullName;

    public ProsodyServer Xmpp { get; private set; } = null!;

    public CoturnServer Turn { get; private set; } = null!;

    public LabSegment Internet { get; private set; } = null!;

    public LabSegment ConeLan { get; private set; } = null!;

    public LabSegment SymmetricLan { get; private set; } = null!;

    private int _hosts;

    public async ValueTask InitializeAsync()
    {
        Internet = Lab.AddSegment("inet", "198.18.0.0/24");
        LabNamespace xmpp = Lab.AddNamespace("xmpp");
        Lab.Connect(xmpp, Internet, "eth0", "198.18.0.100/24");
        LabNamespace turn = Lab.AddNamespace("turn");
        Lab.Connect(turn, Internet, "eth0", "198.18.0.3/24");
        (_, ConeLan) = Lab.AddNatRouter("cone", Internet, "198.18.0.11/24", null, "198.18.1.0/24", "198.18.1.1/24", NatKind.Cone);
        (_, SymmetricLan) = Lab.AddNatRouter("sym", Internet, "198.18.0.13/24", null, "198.18.3.0/24", "198.18.3.1/24", NatKind.Symmetric);
        Xmpp = await ProsodyServer.StartAsync(new ProsodyServerOptions { NetworkNamespace = xmpp.Name, ListenAddress = "198.18.0.100" });
        Turn = await CoturnServer.StartAsync(new CoturnOptions
        {
            NetworkNamespace = turn.Name,
            ListenAddress = IPAddress.Parse("198.18.0.3"),
            RelayAddress = IPAddress.Parse("198.18.0.3"),
            Port = 3478,
            RelayPorts = (49152, 49400),
            AllowLoopbackPeers = false,
        });
    }

    /// <summary>A host on the internet (public) or behind one of the NATs.</summary>
    public LabNamespace Host(string role, string where)
    {
        int n = Interlocked.Increment(ref _hosts) + 20;
        LabNamespace ns = Lab.AddNamespace(role);
        switch (where)
        {
            case "public":
                Lab.Connect(ns, Internet, "eth0", $"198.18.0.{n}/24");
                break;
            case "cone":
                Lab.Connect(ns, ConeLan, "eth0", $"198.18.1.{n}/24");
                ns.Exec("ip", "route", "add", "default", "via", "198.18.1.1");
                break;
            default:
                Lab.Connect(ns, SymmetricLan, "eth0", $"198.18.3.{n}/24");
                ns.Exec("ip", "route", "add", "default", "via", "198.18.3.1");
                break;
        }

        return ns;
    }

    public Task RegisterAsync(string user) => Xmpp.RegisterAsync(user, "pw-" + user);

    public object XmppSection(string user) => new
    {
        Jid = $"{user}@{Xmpp.Domain}",
        Password = "pw-" + user,
        Server = Xmpp.Address,
        Port = Xmpp.Port,
        TrustedCaFile = Xmpp.CertificatePath,
        KeepaliveInterval = "00:00:05",
        ReconnectMaxDelay = "00:00:05",
        FriendRequestPolicy = "AcceptNone",
    };

    public static object TincanSection(string keyPath) => new
    {
        ListenPort = 0,
        PrivateKeyPath = keyPath,
        StunServers = new[] { new { Host = "198.18.0.3", Port = 3478 } },
        TurnServers = new[] { new { Host = "198.18.0.3", Port = 3478, Username = "u", Password = "p" } },
    };

    public async ValueTask DisposeAsync()
    {
        Turn?.Dispose();
        if (Xmpp is not null)
        {
            await Xmpp.DisposeAsync();
        }

        Lab.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
