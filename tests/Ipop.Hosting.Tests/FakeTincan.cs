using System.Diagnostics.CodeAnalysis;

namespace Ipop.Hosting.Tests;

/// <summary>An <see cref="ITincan"/> that records start and dispose; <see cref="StartAsync"/> runs <see cref="OnStart"/>.</summary>
internal sealed class FakeTincan(EventLog log) : ITincan
{
    public Func<CancellationToken, Task> OnStart { get; set; } = static _ => Task.CompletedTask;

    public NodePublicKey LocalKey => default;

    public IReadOnlyCollection<ITincanLink> Links => [];

    public event EventHandler<LinkStatusChangedEventArgs>? LinkStatusChanged
    {
        add { }
        remove { }
    }

    public event EventHandler<ControlMessageEventArgs>? ControlMessageReceived
    {
        add { }
        remove { }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        log.Add("tincan start");
        await OnStart(cancellationToken);
        log.Add("tincan started");
    }

    public ValueTask DisposeAsync()
    {
        log.Add("tincan disposed");
        return ValueTask.CompletedTask;
    }

    public ValueTask<LinkDescriptor> GetLocalDescriptorAsync(CancellationToken cancellationToken) => throw new NotSupportedException();

    public ITincanLink CreateLink(PeerId peer, LinkDescriptor remote) => throw new NotSupportedException();

    public bool RemoveLink(PeerId peer) => false;

    public bool TryGetLink(PeerId peer, [NotNullWhen(true)] out ITincanLink? link)
    {
        link = null;
        return false;
    }

    public void AttachInterface(IVirtualInterface nic, IPacketRouter router) => throw new NotSupportedException();

    public ValueTask<bool> DetachInterfaceAsync(CancellationToken cancellationToken) => ValueTask.FromResult(false);
}
