using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ipop.Tincan.Crypto;
using Ipop.Tincan.DataPlane;
using Ipop.Tincan.Protocol;

namespace Ipop.Tincan.Tests.DataPlane;

/// <summary>
/// Issue 13 (hostile networks), at link level: an on-path attacker injects forged handshake responses, or replays a
/// captured initiation after the responder's link was recreated or the responder restarted.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class HandshakeIntegrityTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_junk_response_injected_before_the_genuine_one_does_not_delay_the_link()
    {
        // A long handshake timeout: a spoiled attempt would only be retried after it, which the bound below excludes.
        void Configure(TincanOptions o) => o.HandshakeTimeout = TimeSpan.FromSeconds(5);
        await using TestNode first = await TestNode.StartAsync("A", configure: Configure);
        await using TestNode second = await TestNode.StartAsync("B", configure: Configure);
        (TestNode a, TestNode b) = Ordered(first, second);

        // On the path from A to B: for every initiation A sends, 76 junk bytes shaped as a response (right type, A's
        // index, a valid mac1, which needs only A's public key) reach A before the initiation goes on to B.
        byte[] macKeyOfA = HandshakeMac.DeriveKey(a.Manager.LocalKey.Bytes);
        int forged = 0;
        using var path = new InjectingPath(b.Manager.Mux!.LocalEndPoint, initiation =>
        {
            byte[] junk = RandomNumberGenerator.GetBytes(HandshakeResponseMessage.Length);
            HandshakeResponseMessage.WriteHeader(junk, senderIndex: 7, receiverIndex: BitConverter.ToUInt32(initiation, 4));
            HandshakeMac.Write(junk, macKeyOfA);
            Interlocked.Increment(ref forged);
            return junk;
        });

        // Static descriptors (no check credentials, so no connectivity checks that could find a way around the path):
        // A's only way to B is the path; B answers where initiations come from (its own candidate for A is dead).
        using var dead = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        dead.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        b.Tincan.CreateLink(a.Id, (await a.DescriptorViaAsync((IPEndPoint)dead.LocalEndPoint!)) with { CheckUsername = "", CheckPassword = "" });
        long started = Stopwatch.GetTimestamp();
        a.Tincan.CreateLink(b.Id, (await b.DescriptorViaAsync(path.EndPoint)) with { CheckUsername = "", CheckPassword = "" });
        await TestNode.WaitUntilAsync(() => a.LinkTo(b).Status.State == LinkState.Connected, "A connected despite the forged response", Wait);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);

        // The forgery reached the Noise read and was refused there, and the genuine response that followed completed
        // the same attempt: one initiation, no retry.
        TestContext.Current.TestOutputHelper?.WriteLine($"connected {elapsed.TotalMilliseconds:F0} ms after CreateLink, {forged} forged responses refused first");
        Assert.True(Volatile.Read(ref forged) >= 1);
        Assert.True(a.Manager.Drops.Get(DropReason.AuthenticationFailed) >= 1, "the forged response was read and refused");
        Assert.Equal(1, path.InitiationsForwarded);
        Assert.Equal(0, a.Manager.Drops.Get(DropReason.HandlerError));
        Assert.True(elapsed < TimeSpan.FromSeconds(2.5), $"connected after {elapsed.TotalMilliseconds:F0} ms");
        byte[] p = TestNode.Packet(b, 1);
        a.Nic.Inject(p);
        Assert.Equal(p, b.Nic.TakeWritten(Wait));
    }

    [Fact]
    public async Task An_old_initiation_is_refused_after_the_link_is_removed_and_created_again()
    {
        await using TestNode first = await TestNode.StartAsync("A");
        await using TestNode second = await TestNode.StartAsync("B");
        (TestNode a, TestNode b) = Ordered(first, second);
        using var relay = new UdpRelay(b.Manager.Mux!.LocalEndPoint);
        LinkDescriptor descriptorOfA = await a.DescriptorViaAsync(relay.EndPoint);
        b.Tincan.CreateLink(a.Id, descriptorOfA);
        a.Tincan.CreateLink(b.Id, await b.DescriptorViaAsync(relay.EndPoint));
        await TestNode.WaitUntilAsync(() => b.LinkTo(a).Status.State == LinkState.Connected, "connected through the relay", Wait);
        byte[] captured = relay.ToTarget.First(d => d[0] == (byte)MessageType.HandshakeInitiation);

        // B forgets the link and authorizes A again: a new link object, with no handshake of its own yet.
        Assert.True(b.Tincan.RemoveLink(a.Id));
        b.Tincan.CreateLink(a.Id, descriptorOfA);
        long replays = b.Manager.Drops.Get(DropReason.HandshakeReplay);
        relay.SendToTarget(captured);
        await TestNode.WaitUntilAsync(() => b.Manager.Drops.Get(DropReason.HandshakeReplay) > replays, "the captured initiation refused as a replay", Wait);
    }

    [Fact]
    public async Task An_old_initiation_is_refused_after_the_responder_restarts_and_the_state_file_is_0600()
    {
        string dir = Directory.CreateTempSubdirectory("ipop-hs-").FullName;
        try
        {
            string keyFile = Path.Combine(dir, "b.key");
            void WithKeyFile(TincanOptions o) => o.PrivateKeyPath = keyFile;
            TestNode b = await TestNode.StartAsync("B", configure: WithKeyFile);
            TestNode a = await StartLowerThanAsync(b);
            byte[] captured;
            LinkDescriptor descriptorOfA;
            try
            {
                using var relay = new UdpRelay(b.Manager.Mux!.LocalEndPoint);
                descriptorOfA = await a.DescriptorViaAsync(relay.EndPoint);
                b.Tincan.CreateLink(a.Id, descriptorOfA);
                a.Tincan.CreateLink(b.Id, await b.DescriptorViaAsync(relay.EndPoint));
                await TestNode.WaitUntilAsync(() => b.LinkTo(a).Status.State == LinkState.Connected, "connected through the relay", Wait);
                captured = relay.ToTarget.First(d => d[0] == (byte)MessageType.HandshakeInitiation);
            }
            finally
            {
                await b.DisposeAsync();
            }

            string stateFile = keyFile + ".state";
            Assert.True(File.Exists(stateFile), "the state file is next to the key file");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(stateFile));
            Assert.Contains(a.Manager.LocalKey.ToString(), await File.ReadAllTextAsync(stateFile, TestContext.Current.CancellationToken), StringComparison.Ordinal);

            // The same node, restarted (same key, new port), authorizes A again and gets the captured initiation.
            await using TestNode restarted = await TestNode.StartAsync("B", configure: WithKeyFile);
            await using (a)
            {
                restarted.Tincan.CreateLink(a.Id, descriptorOfA);
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                socket.SendTo(captured, restarted.Manager.Mux!.LocalEndPoint);
                await TestNode.WaitUntilAsync(() => restarted.Manager.Drops.Get(DropReason.HandshakeReplay) == 1, "the captured initiation refused after the restart", Wait);
                Assert.Equal(0, restarted.Manager.Drops.Get(DropReason.AuthenticationFailed));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // A is the side with the lower key: it sends the initiations.
    private static (TestNode A, TestNode B) Ordered(TestNode x, TestNode y) =>
        x.Manager.LocalKey.Bytes.SequenceCompareTo(y.Manager.LocalKey.Bytes) < 0 ? (x, y) : (y, x);

    private static async Task<TestNode> StartLowerThanAsync(TestNode b)
    {
        for (int i = 0; i < 64; i++)
        {
            TestNode a = await TestNode.StartAsync("A");
            if (a.Manager.LocalKey.Bytes.SequenceCompareTo(b.Manager.LocalKey.Bytes) < 0)
            {
                return a;
            }

            await a.DisposeAsync();
        }

        throw new InvalidOperationException("no lower key in 64 tries");
    }

    /// <summary>
    /// A path to <paramref name="target"/> that forwards both ways and, for each handshake initiation, first sends
    /// the client what <paramref name="forge"/> makes of it (an on-path attacker racing the genuine response).
    /// </summary>
    private sealed class InjectingPath : IDisposable
    {
        private readonly Socket _inside = NewSocket();
        private readonly Socket _outside = NewSocket();
        private readonly IPEndPoint _target;
        private readonly Func<byte[], byte[]> _forge;
        private readonly Thread[] _threads;
        private volatile bool _stop;
        private IPEndPoint? _client;
        private int _initiations;

        public InjectingPath(IPEndPoint target, Func<byte[], byte[]> forge)
        {
            _target = target;
            _forge = forge;
            _threads = [new Thread(InsideLoop) { IsBackground = true }, new Thread(OutsideLoop) { IsBackground = true }];
            foreach (Thread t in _threads)
            {
                t.Start();
            }
        }

        public IPEndPoint EndPoint => (IPEndPoint)_inside.LocalEndPoint!;

        public int InitiationsForwarded => Volatile.Read(ref _initiations);

        public void Dispose()
        {
            _stop = true;
            foreach (Thread t in _threads)
            {
                t.Join(TimeSpan.FromSeconds(2));
            }

            _inside.Dispose();
            _outside.Dispose();
        }

        private static Socket NewSocket()
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            s.ReceiveTimeout = 200;
            return s;
        }

        private void InsideLoop()
        {
            byte[] buffer = new byte[65536];
            EndPoint any = new IPEndPoint(IPAddress.Any, 0);
            while (!_stop)
            {
                try
                {
                    int n = _inside.ReceiveFrom(buffer, ref any);
                    var client = (IPEndPoint)any;
                    _client = client;
                    byte[] datagram = buffer[..n];
                    if (n == HandshakeInitiationMessage.Length && datagram[0] == (byte)MessageType.HandshakeInitiation)
                    {
                        _inside.SendTo(_forge(datagram), client);
                        Interlocked.Increment(ref _initiations);
                    }

                    _outside.SendTo(datagram, _target);
                }
                catch (SocketException)
                {
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        }

        private void OutsideLoop()
        {
            byte[] buffer = new byte[65536];
            EndPoint any = new IPEndPoint(IPAddress.Any, 0);
            while (!_stop)
            {
                try
                {
                    int n = _outside.ReceiveFrom(buffer, ref any);
                    if (_client is { } client && ((IPEndPoint)any).Equals(_target))
                    {
                        _inside.SendTo(buffer.AsSpan(0, n), client);
                    }
                }
                catch (SocketException)
                {
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        }
    }
}
