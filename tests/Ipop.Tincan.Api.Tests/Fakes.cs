using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.NetworkInformation;

namespace Ipop.Tincan.Api.Tests;

/// <summary>
/// An <see cref="ITincan"/> whose links the test drives: it records calls, raises status and control events on
/// demand, and (when two fakes are paired) connects a link once both sides authorized each other's key, as the
/// real handshake would.
/// </summary>
internal sealed class FakeTincan : ITincan
{
    private readonly ConcurrentDictionary<PeerId, FakeLink> _links = new();

    public FakeTincan(byte seed)
    {
        LocalKey = new NodePublicKey(Enumerable.Range(0, 32).Select(i => (byte)(seed + i)).ToArray());
        string key = LocalKey.ToString();
        Descriptor = new LinkDescriptor(
            LocalKey,
            [
                new Candidate(CandidateType.Host, new IPEndPoint(IPAddress.Parse($"198.18.{seed}.2"), 40000 + seed), Candidate.ComputePriority(CandidateType.Host, 65535), "h1"),
                new Candidate(CandidateType.ServerReflexive, new IPEndPoint(IPAddress.Parse($"198.18.0.{10 + seed}"), 50000 + seed), Candidate.ComputePriority(CandidateType.ServerReflexive, 65535), "s1", "198.18.0.3:3478"),
            ],
            "uf" + key[..6].Replace('+', 'x').Replace('/', 'y'),
            "pw" + key[6..30].Replace('+', 'x').Replace('/', 'y'));
    }

    public NodePublicKey LocalKey { get; }

    public LinkDescriptor Descriptor { get; set; }

    public Exception? DescriptorFailure { get; set; }

    public Exception? AttachFailure { get; set; }

    /// <summary>When set, a link connects as soon as the other fake holds a link back to this one with the right keys.</summary>
    public FakeTincan? Partner { get; set; }

    /// <summary>Name this node is known by on <see cref="Partner"/>.</summary>
    public PeerId? NameOnPartner { get; set; }

    public List<(IVirtualInterface Nic, IPacketRouter Router)> Attached { get; } = [];

    /// <summary>The interface attached now, as a real Tincan tracks it: one at a time.</summary>
    public (IVirtualInterface Nic, IPacketRouter Router)? Current { get; private set; }

    /// <summary>NICs detached through <see cref="DetachInterfaceAsync"/>, and whether the caller had disposed each one already then.</summary>
    public ConcurrentQueue<(IVirtualInterface Nic, bool DisposedBefore)> Detached { get; } = new();

    public ConcurrentQueue<(PeerId Peer, LinkDescriptor Remote)> CreateLinkCalls { get; } = new();

    public IReadOnlyCollection<ITincanLink> Links => [.. _links.Values];

    public event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged;

    public event EventHandler<ControlMessageEventArgs>? ControlMessageReceived;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask<LinkDescriptor> GetLocalDescriptorAsync(CancellationToken cancellationToken) =>
        DescriptorFailure is { } e ? ValueTask.FromException<LinkDescriptor>(e) : ValueTask.FromResult(Descriptor);

    public ITincanLink CreateLink(PeerId peer, LinkDescriptor remote)
    {
        CreateLinkCalls.Enqueue((peer, remote));
        FakeLink link = _links.AddOrUpdate(peer, p => new FakeLink(this, p, remote.Key), (p, old) => new FakeLink(this, p, remote.Key));
        TryConnectWithPartner();
        return link;
    }

    public bool RemoveLink(PeerId peer)
    {
        if (!_links.TryRemove(peer, out FakeLink? link))
        {
            return false;
        }

        link.SetStatus(new LinkStatus(LinkState.Closed, LinkPath.None, LinkFailureReason.Revoked, "removed by the controller"));
        return true;
    }

    public bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link)
    {
        bool found = _links.TryGetValue(peer, out FakeLink? fake);
        link = fake;
        return found;
    }

    public FakeLink Link(string peer) => _links[new PeerId(peer)];

    public void AttachInterface(IVirtualInterface nic, IPacketRouter router)
    {
        if (AttachFailure is { } e)
        {
            throw e;
        }

        if (Current is { } current)
        {
            throw new InvalidOperationException($"Interface '{current.Nic.Name}' is already attached; one interface at a time (DetachInterfaceAsync first).");
        }

        Attached.Add((nic, router));
        Current = (nic, router);
    }

    public ValueTask<bool> DetachInterfaceAsync(CancellationToken cancellationToken)
    {
        if (Current is not { } current)
        {
            return ValueTask.FromResult(false);
        }

        Detached.Enqueue((current.Nic, current.Nic is FakeNic { Disposed: true }));
        Current = null;
        return ValueTask.FromResult(true);
    }

    public void DeliverControl(string peer, byte[] message) => ControlMessageReceived?.Invoke(this, new ControlMessageEventArgs(Link(peer), message));

    public void RaiseStatusChanged(FakeLink link, LinkStatus previous, LinkStatus current) =>
        LinkStatusChanged?.Invoke(this, new LinkStatusChangedEventArgs(link, previous, current));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private void TryConnectWithPartner()
    {
        if (Partner is not { } other || NameOnPartner is not { } me || other.NameOnPartner is not { } them)
        {
            return;
        }

        if (_links.TryGetValue(them, out FakeLink? mine) && other._links.TryGetValue(me, out FakeLink? theirs)
            && mine.PeerKey == other.LocalKey && theirs.PeerKey == LocalKey)
        {
            // Connect a little later, on another thread, like a real handshake completing.
            _ = Task.Run(async () =>
            {
                await Task.Delay(50);
                var connected = new LinkStatus(LinkState.Connected, LinkPath.DirectHost, LinkFailureReason.None);
                mine.SetStatus(connected);
                theirs.SetStatus(connected);
            });
        }
    }
}

internal sealed class FakeLink(FakeTincan owner, PeerId peer, NodePublicKey peerKey) : ITincanLink
{
    private LinkStatus _status = LinkStatus.Connecting;

    public PeerId Peer { get; } = peer;

    public NodePublicKey PeerKey { get; } = peerKey;

    public LinkStatus Status => Volatile.Read(ref _status);

    public LinkStats Stats { get; set; } = new();

    public int MaxControlBytes { get; set; } = 1024;

    public ConcurrentQueue<byte[]> SentControl { get; } = new();

    public LinkStats GetStats() => Stats;

    public bool TrySend(ReadOnlySpan<byte> packet) => false;

    public bool TrySendControl(ReadOnlySpan<byte> message)
    {
        if (Status.State != LinkState.Connected || message.Length > MaxControlBytes)
        {
            return false;
        }

        SentControl.Enqueue(message.ToArray());
        return true;
    }

    public void SetStatus(LinkStatus status)
    {
        LinkStatus previous = Interlocked.Exchange(ref _status, status);
        owner.RaiseStatusChanged(this, previous, status);
    }
}

internal sealed class FakeInterfaceFactory : IVirtualInterfaceFactory
{
    public List<VirtualInterfaceOptions> Created { get; } = [];

    public List<FakeNic> Nics { get; } = [];

    public IVirtualInterface Create(VirtualInterfaceOptions options)
    {
        if (options.Name == "busy0")
        {
            throw new VirtualInterfaceException("TUNSETIFF on busy0 failed: Device or resource busy (EBUSY)") { ErrorNumber = 16 };
        }

        Created.Add(options);
        var nic = new FakeNic(
            options.Name.Length > 0 ? options.Name : options.Mode == VirtualInterfaceMode.Tap ? "tap0" : "tun0",
            options.Mode,
            options.Mtu,
            options.Mode == VirtualInterfaceMode.Tap ? options.MacAddress ?? PhysicalAddress.Parse("02-00-5E-00-53-AA") : null);
        Nics.Add(nic);
        return nic;
    }
}

/// <summary>An in-memory device: tests inject what the kernel would send and collect what Tincan writes; misuse after dispose is counted.</summary>
internal sealed class FakeNic(string name, VirtualInterfaceMode mode, int mtu, PhysicalAddress? mac) : IVirtualInterface
{
    private readonly BlockingCollection<byte[]> _toRead = new(boundedCapacity: 1000);
    private int _disposed;
    private int _activeReads;
    private long _usedAfterDispose;

    public string Name { get; } = name;

    public VirtualInterfaceMode Mode { get; } = mode;

    public int Mtu { get; private set; } = mtu;

    public int Index => 7;

    public PhysicalAddress? MacAddress { get; } = mac;

    public bool Disposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Packets Tincan wrote (delivered to the "kernel").</summary>
    public BlockingCollection<byte[]> Written { get; } = new(boundedCapacity: 1000);

    /// <summary>Reads and writes that started after dispose, plus reads still running when dispose began.</summary>
    public long UsedAfterDispose => Interlocked.Read(ref _usedAfterDispose);

    /// <summary>A packet the kernel routes to this device.</summary>
    public void Inject(byte[] packet) => _toRead.Add(packet);

    public int Read(Span<byte> buffer, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _activeReads);
        try
        {
            if (Disposed)
            {
                Interlocked.Increment(ref _usedAfterDispose);
                throw new ObjectDisposedException(Name);
            }

            byte[] packet = _toRead.Take(cancellationToken);
            packet.CopyTo(buffer);
            return packet.Length;
        }
        catch (InvalidOperationException) when (_toRead.IsAddingCompleted)
        {
            throw new ObjectDisposedException(Name);
        }
        finally
        {
            Interlocked.Decrement(ref _activeReads);
        }
    }

    public bool Write(ReadOnlySpan<byte> packet)
    {
        if (Disposed)
        {
            Interlocked.Increment(ref _usedAfterDispose);
            return false;
        }

        return Written.TryAdd(packet.ToArray());
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => throw new NotSupportedException();

    public void AddAddress(InterfaceAddress address)
    {
    }

    public void RemoveAddress(InterfaceAddress address)
    {
    }

    public void SetMtu(int mtu) => Mtu = mtu;

    public void SetUp(bool up)
    {
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Interlocked.Add(ref _usedAfterDispose, Volatile.Read(ref _activeReads));
            _toRead.CompleteAdding();
        }
    }
}
