using System.Collections.Immutable;
using System.Net;
using Ipop.Tincan.DataPlane;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>A real Tincan node on 127.0.0.1 with an in-memory NIC and a test router.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private TestNode(string name, ITincan tincan, FakeNic nic, TestRouter router)
    {
        Name = name;
        Tincan = tincan;
        Nic = nic;
        Router = router;
    }

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public string Name { get; }

    public PeerId Id => new(Name);

    public ITincan Tincan { get; }

    public LinkManager Manager => (LinkManager)Tincan;

    public FakeNic Nic { get; }

    public TestRouter Router { get; }

    public static async Task<TestNode> StartAsync(string name, TimeProvider? time = null, Action<TincanOptions>? configure = null)
    {
        var options = new TincanOptions { ListenAddress = "127.0.0.1", SocketBufferBytes = 256 * 1024 };
        configure?.Invoke(options);
        ITincan tincan = TincanNode.Create(options, null, time);
        await tincan.StartAsync(TestContext.Current.CancellationToken);
        var nic = new FakeNic(name);
        var router = new TestRouter(tincan);
        tincan.AttachInterface(nic, router);
        return new TestNode(name, tincan, nic, router);
    }

    public Task<LinkDescriptor> DescriptorAsync() => Tincan.GetLocalDescriptorAsync(TestContext.Current.CancellationToken).AsTask();

    /// <summary>A descriptor of this node that points at another address (a relay, a dead port).</summary>
    public async Task<LinkDescriptor> DescriptorViaAsync(IPEndPoint endPoint)
    {
        LinkDescriptor d = await DescriptorAsync();
        return d with { Candidates = [new Candidate(CandidateType.Host, endPoint, 1, "via")] };
    }

    public ITincanLink LinkTo(TestNode other) => Tincan.TryGetLink(other.Id, out ITincanLink? link) ? link : throw new InvalidOperationException($"{Name} has no link to {other.Name}");

    public static async Task ConnectAsync(TestNode a, TestNode b)
    {
        LinkDescriptor da = await a.DescriptorAsync();
        LinkDescriptor db = await b.DescriptorAsync();
        a.Tincan.CreateLink(b.Id, db);
        b.Tincan.CreateLink(a.Id, da);
        await WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected && b.LinkTo(a).Status.State == LinkState.Connected, $"{a.Name}<->{b.Name} connected");
    }

    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for: {what}");
            }

            await Task.Delay(10, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>
    /// Asserts a counter reaches <paramref name="expected"/>. A hop counts a forward after its send returns, so the
    /// packet can reach the far end before the count moves: reading it right after delivery races on a busy machine.
    /// </summary>
    public static async Task EqualEventuallyAsync(long expected, Func<long> actual, string what, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (actual() != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.True(actual() == expected, $"{what}: expected {expected}, was {actual()}");
    }

    /// <summary>A test packet: byte 0 names the destination node, then a sequence number and filler.</summary>
    public static byte[] Packet(TestNode to, int sequence, int length = 100)
    {
        byte[] p = new byte[length];
        p[0] = (byte)to.Name[0];
        BitConverter.TryWriteBytes(p.AsSpan(1), sequence);
        for (int i = 5; i < length; i++)
        {
            p[i] = (byte)(i * 7);
        }

        return p;
    }

    public async ValueTask DisposeAsync()
    {
        await Tincan.DisposeAsync();
        Nic.Dispose();
    }
}
