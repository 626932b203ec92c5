using System.Net;
using Ipop.Tincan.Stun;
using Ipop.Tincan.Tests.Stun;
using Ipop.Tincan.Turn;

namespace Ipop.Tincan.Tests.Turn;

/// <summary>One client socket on 127.0.0.1 wired like the node's (<c>NatTraversal</c>): pump, transaction table, demultiplexer, TURN client.</summary>
internal sealed class TurnRig : IAsyncDisposable
{
    /// <summary>
    /// Short schedule so dead servers are skipped quickly, with slack for a loaded machine:
    /// sends at 0, 0.15, 0.45, 1.05, 2.25 s, gives up at 2.85 s.
    /// </summary>
    public static readonly StunRetransmissionPolicy FastPolicy = new(TimeSpan.FromMilliseconds(150), 5, 4);

    private TurnRig(TurnTimings timings)
    {
        Transport = new UdpStunTransport(new IPEndPoint(IPAddress.Loopback, 0));
        Transactions = new StunTransactionTable(Transport, TimeProvider.System, Logger, FastPolicy);
        Demultiplexer = new TurnDemultiplexer(Transactions);
        Client = new TurnClient(Transactions, Demultiplexer, timings, Logger);
        Binding = new StunBindingClient(Transactions, Logger);
        Transport.Start(Demultiplexer);
    }

    public TestLogger Logger { get; } = new();

    public UdpStunTransport Transport { get; }

    public StunTransactionTable Transactions { get; }

    public TurnDemultiplexer Demultiplexer { get; }

    public TurnClient Client { get; }

    public StunBindingClient Binding { get; }

    public static TurnRig Create(TurnTimings? timings = null) => new(timings ?? new TurnTimings { Retransmission = FastPolicy });

    public async ValueTask DisposeAsync()
    {
        Transactions.Dispose();
        await Transport.DisposeAsync();
    }
}
