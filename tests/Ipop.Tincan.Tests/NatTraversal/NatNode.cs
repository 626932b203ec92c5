using System.Net;
using Ipop.Lab.Servers;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Tests.DataPlane;
using Ipop.Tincan.Tests.Stun;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Tests.NatTraversal;

/// <summary>A real Tincan node on 127.0.0.1 with STUN/TURN servers configured, a fake NIC and a log we can read.</summary>
internal sealed class NatNode : IAsyncDisposable
{
    private NatNode(string name, ITincan tincan, FakeNic nic, TestRouter router, TestLogger logger)
    {
        Router = router;
        Name = name;
        Tincan = tincan;
        Nic = nic;
        Logger = logger;
    }

    public string Name { get; }

    public PeerId Id => new(Name);

    public ITincan Tincan { get; }

    public LinkManager Manager => (LinkManager)Tincan;

    public FakeNic Nic { get; }

    public TestRouter Router { get; }

    public TestLogger Logger { get; }

    public IPEndPoint LocalEndPoint => Manager.Mux!.LocalEndPoint;

    public static TurnServerOptions Turn(CoturnServer coturn, string user = "u", string password = "p") =>
        new() { Host = coturn.EndPoint.Address.ToString(), Port = coturn.EndPoint.Port, Username = user, Password = password };

    public static async Task<NatNode> StartAsync(string name, Action<TincanOptions>? configure = null)
    {
        var options = new TincanOptions
        {
            ListenAddress = "127.0.0.1",
            SocketBufferBytes = 256 * 1024,
            HandshakeTimeout = TimeSpan.FromMilliseconds(300),
            KeepaliveInterval = TimeSpan.FromMilliseconds(500),
        };
        configure?.Invoke(options);
        var logger = new TestLogger();
        ITincan tincan = TincanNode.Create(options, new SingleLoggerFactory(logger));
        await tincan.StartAsync(TestContext.Current.CancellationToken);
        var nic = new FakeNic(name);
        var router = new TestRouter(tincan);
        tincan.AttachInterface(nic, router);
        return new NatNode(name, tincan, nic, router, logger);
    }

    public Task<LinkDescriptor> DescriptorAsync() => Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken).AsTask();

    /// <summary>This node's descriptor with only the candidates of <paramref name="type"/>.</summary>
    public async Task<LinkDescriptor> DescriptorWithOnlyAsync(CandidateType type)
    {
        LinkDescriptor d = await DescriptorAsync();
        LinkDescriptor only = d with { Candidates = [.. d.Candidates.Where(c => c.Type == type)] };
        Assert.NotEmpty(only.Candidates);
        return only;
    }

    public TincanLink LinkTo(NatNode other) =>
        Tincan.TryGetLink(other.Id, out ITincanLink? link) ? (TincanLink)link : throw new InvalidOperationException($"{Name} has no link to {other.Name}");

    public static byte[] Packet(NatNode to, int sequence, int length = 200)
    {
        byte[] p = new byte[length];
        p[0] = (byte)to.Name[0];
        BitConverter.TryWriteBytes(p.AsSpan(1), sequence);
        for (int i = 5; i < length; i++)
        {
            p[i] = (byte)(i * 13);
        }

        return p;
    }

    /// <summary>Sends <paramref name="count"/> packets each way and checks every one arrives intact.</summary>
    public static void AssertTrafficBothWays(NatNode a, NatNode b, int count, int firstSequence = 0)
    {
        for (int i = firstSequence; i < firstSequence + count; i++)
        {
            byte[] toB = Packet(b, i);
            a.Nic.Inject(toB);
            Assert.Equal(toB, b.Nic.TakeWritten(TimeSpan.FromSeconds(5)));

            byte[] toA = Packet(a, i);
            b.Nic.Inject(toA);
            Assert.Equal(toA, a.Nic.TakeWritten(TimeSpan.FromSeconds(5)));
        }
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        WaitUntilAsync(condition, () => what, timeout);

    /// <summary>Polls <paramref name="condition"/> (bounded); the timeout message describes the state at that moment.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, Func<string> describe, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for: {describe()}");
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Tincan.DisposeAsync();
        Nic.Dispose();
    }

    private sealed class SingleLoggerFactory(TestLogger logger) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => logger;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }
}
