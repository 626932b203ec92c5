using System.Net;
using Ipop.Lab.Namespaces;
using Ipop.Lab.Servers;

namespace Ipop.IntegrationTests.Nat;

/// <summary>
/// A small internet built once for the NAT tests (TESTING.md): an "internet" switch on 198.18.0.0/24 with two
/// STUN/TURN servers (real coturn; the second one's address exists but no server runs there, for fail-over), a second
/// STUN server on the first one's address at another port (two destinations, so netcheck can compare mappings),
/// a public host, two cone NATs (MASQUERADE) and two symmetric NATs (MASQUERADE --random-fully), each with a
/// LAN 198.18.N.0/24 and a node on it (cone1's LAN has two, for the same-LAN case).
/// </summary>
public sealed class NatLabFixture : IAsyncLifetime
{
    public NetworkLab Lab { get; } = new();

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("ipop-nat-").FullName;

    public CoturnServer? Turn { get; private set; }

    /// <summary>A second coturn on 198.18.0.3, port <see cref="SecondStunPort"/>: a second destination for netcheck.</summary>
    public CoturnServer? SecondStun { get; private set; }

    public const int SecondStunPort = 3490;

    public LabNamespace Public { get; private set; } = null!;

    public LabNamespace Cone1 { get; private set; } = null!;

    public LabNamespace Cone1Neighbour { get; private set; } = null!;

    public LabNamespace Cone2 { get; private set; } = null!;

    public LabNamespace Symmetric1 { get; private set; } = null!;

    public LabNamespace Symmetric2 { get; private set; } = null!;

    public LabNamespace Cone1Router { get; private set; } = null!;

    public static object[] Stun => [new { Host = "198.18.0.3", Port = 3478 }];

    /// <summary>Two STUN servers (one address, two ports): a symmetric NAT maps them to two public ports, a cone NAT to one.</summary>
    public static object[] TwoStun => [new { Host = "198.18.0.3", Port = 3478 }, new { Host = "198.18.0.3", Port = SecondStunPort }];

    public static object[] TurnList => [new { Host = "198.18.0.3", Port = 3478, Username = "u", Password = "p" }];

    /// <summary>The first TURN server is down (nothing listens on 198.18.0.4), the second works.</summary>
    public static object[] TurnListFirstDown =>
        [new { Host = "198.18.0.4", Port = 3478, Username = "u", Password = "p" }, new { Host = "198.18.0.3", Port = 3478, Username = "u", Password = "p" }];

    public async ValueTask InitializeAsync()
    {
        LabSegment internet = Lab.AddSegment("inet", "198.18.0.0/24");
        LabNamespace turn1 = Lab.AddNamespace("turn1");
        Lab.Connect(turn1, internet, "eth0", "198.18.0.3/24");
        LabNamespace turn2 = Lab.AddNamespace("turn2");
        Lab.Connect(turn2, internet, "eth0", "198.18.0.4/24");
        Public = Lab.AddNamespace("public");
        Lab.Connect(Public, internet, "eth0", "198.18.0.20/24");

        (Cone1Router, LabSegment cone1Lan) = Lab.AddNatRouter("nat1", internet, "198.18.0.11/24", null, "198.18.1.0/24", "198.18.1.1/24", NatKind.Cone);
        Cone1 = Node("cone1", cone1Lan, "198.18.1.10/24", "198.18.1.1");
        Cone1Neighbour = Node("cone1b", cone1Lan, "198.18.1.11/24", "198.18.1.1");
        (_, LabSegment cone2Lan) = Lab.AddNatRouter("nat2", internet, "198.18.0.12/24", null, "198.18.2.0/24", "198.18.2.1/24", NatKind.Cone);
        Cone2 = Node("cone2", cone2Lan, "198.18.2.10/24", "198.18.2.1");
        (_, LabSegment sym1Lan) = Lab.AddNatRouter("nat3", internet, "198.18.0.13/24", null, "198.18.3.0/24", "198.18.3.1/24", NatKind.Symmetric);
        Symmetric1 = Node("sym1", sym1Lan, "198.18.3.10/24", "198.18.3.1");
        (_, LabSegment sym2Lan) = Lab.AddNatRouter("nat4", internet, "198.18.0.14/24", null, "198.18.4.0/24", "198.18.4.1/24", NatKind.Symmetric);
        Symmetric2 = Node("sym2", sym2Lan, "198.18.4.10/24", "198.18.4.1");

        Turn = await CoturnServer.StartAsync(new CoturnOptions
        {
            NetworkNamespace = turn1.Name,
            ListenAddress = IPAddress.Parse("198.18.0.3"),
            RelayAddress = IPAddress.Parse("198.18.0.3"),
            Port = 3478,
            RelayPorts = (49152, 49400),
            AllowLoopbackPeers = false,
        });
        SecondStun = await CoturnServer.StartAsync(new CoturnOptions
        {
            NetworkNamespace = turn1.Name,
            ListenAddress = IPAddress.Parse("198.18.0.3"),
            RelayAddress = IPAddress.Parse("198.18.0.3"),
            Port = SecondStunPort,
            RelayPorts = (49401, 49450),
            AllowLoopbackPeers = false,
        });
    }

    private LabNamespace Node(string role, LabSegment lan, string address, string gateway)
    {
        LabNamespace ns = Lab.AddNamespace(role);
        Lab.Connect(ns, lan, "eth0", address);
        ns.Exec("ip", "route", "add", "default", "via", gateway);
        return ns;
    }

    public ValueTask DisposeAsync()
    {
        SecondStun?.Dispose();
        Turn?.Dispose();
        Lab.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
