using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using Ipop.Samples.Hosting;
using Ipop.Tincan;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ipop.TincanHost;

/// <summary>Creates the NIC and the link manager, links to every configured peer and forwards until stopped.</summary>
internal sealed partial class TincanHostService(
    HostConfig config,
    IVirtualInterfaceFactory interfaces,
    ITincan tincan,
    IHostApplicationLifetime lifetime,
    ServiceReadiness readiness,
    ILogger<TincanHostService> logger) : BackgroundService
{
    /// <summary>How long stopping waits for the link manager to let go of the NIC before the NIC is closed anyway.</summary>
    private static readonly TimeSpan DetachWait = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IVirtualInterface? nic = null;
        try
        {
            tincan.LinkStatusChanged += (_, e) => LogLinkStatus(logger, e.Link.Peer.Value, e.Current.ToString());
            await tincan.StartAsync(stoppingToken);
            if (config.Interface is { } section)
            {
                nic = CreateInterface(section);
                AttachStaticPeers(nic, section);
            }

            // "Ready" (the log line and sd_notify READY=1) promises that every part of the node works, the controller
            // API socket included; the host starts that service after this one, and if it cannot start, the one-line
            // error and exit 3 must not follow a ready line (issue 15).
            await WhenHostStartedAsync(stoppingToken);
            if (nic is null && config.ControllerApi is { } api)
            {
                LogReadyForController(logger, api.SocketPath, tincan.LocalKey.ToString());
            }
            else
            {
                LogReady(logger, nic?.Name ?? "-", config.Interface?.Mode ?? "-", string.Join(' ', config.Interface?.Addresses ?? []), tincan.LocalKey.ToString(), config.Peers.Count);
            }

            readiness.MarkReady();
            await ReportUntilStoppedAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (stoppingToken.IsCancellationRequested && e is not OutOfMemoryException)
        {
            // A failure caused by the stop itself is not a failure to start: the exit code stays 0.
            LogStoppedWhileStarting(logger, StartFailure.OneLine(e));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One line for the journal; a stack trace helps no one who has a port taken or no /dev/net/tun.
            LogFatal(logger, StartFailure.OneLine(e));
            Environment.ExitCode = StartFailure.ExitCode(e);
            lifetime.StopApplication();
        }
        finally
        {
            if (nic is not null)
            {
                await ReleaseInterfaceAsync(nic);
            }
        }
    }

    /// <summary>Completes once the host has started every hosted service; never if one of them failed (the stop cancels it).</summary>
    private async Task WhenHostStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), started))
        {
            await started.Task.WaitAsync(stoppingToken);
        }
    }

    /// <summary>
    /// Detaches, then closes the NIC (which removes the device). In the other order the link manager's threads would
    /// read and write a closed NIC, and its own detach would run after the NIC thread had already ended.
    /// </summary>
    private async Task ReleaseInterfaceAsync(IVirtualInterface nic)
    {
        try
        {
            await tincan.DetachInterfaceAsync(CancellationToken.None).AsTask().WaitAsync(DetachWait);
        }
        catch (TimeoutException)
        {
            LogDetachSlow(logger, nic.Name, DetachWait.TotalSeconds);
        }
        finally
        {
            nic.Dispose();
        }
    }

    private async Task ReportUntilStoppedAsync(CancellationToken stoppingToken)
    {
        TimeSpan interval = config.StatusIntervalSeconds > 0 ? TimeSpan.FromSeconds(config.StatusIntervalSeconds) : Timeout.InfiniteTimeSpan;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(interval, stoppingToken);
            foreach (ITincanLink link in tincan.Links)
            {
                LinkStats s = link.GetStats();
                LogLinkStats(logger, link.Peer.Value, link.Status.ToString(), s.PacketsSent, s.BytesSent, s.PacketsReceived, s.BytesReceived, s.DroppedSpoofed, s.DroppedReplayed, s.DroppedUnauthenticated, s.PacketsDropped);
            }
        }
    }

    private IVirtualInterface CreateInterface(InterfaceSection section) =>
        interfaces.Create(new VirtualInterfaceOptions
        {
            Name = section.Name,
            Mode = section.Mode == "tap" ? VirtualInterfaceMode.Tap : VirtualInterfaceMode.Tun,
            Mtu = section.Mtu,
            Addresses = [.. section.Addresses.Select(InterfaceAddress.Parse)],
            MacAddress = section.MacAddress is { Length: > 0 } mac ? PhysicalAddress.Parse(mac) : null,
            Offload = section.Offload,
        });

    private void AttachStaticPeers(IVirtualInterface nic, InterfaceSection section)
    {
        var routes = new RouteTable();
        IPacketRouter router = section.Mode == "tap" ? new LearningSwitch() : routes;
        foreach (PeerSection peer in config.Peers)
        {
            ITincanLink link = tincan.CreateLink(new PeerId(peer.Id), StaticPeerDescriptor(NodePublicKey.Parse(peer.PublicKey), IPEndPoint.Parse(peer.Endpoint)));
            foreach (string prefix in peer.AllowedIps)
            {
                routes.SetRoute(IPNetwork.Parse(prefix), link);
            }
        }

        if (section.Forward)
        {
            // The table forwards once it knows which addresses are the node's own (RouteTable.SetLocal).
            foreach (string address in section.Addresses)
            {
                IPAddress own = InterfaceAddress.Parse(address).Address;
                routes.SetLocal(new IPNetwork(own, own.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
        }

        tincan.AttachInterface(nic, router);
    }

    /// <summary>
    /// A descriptor for a peer whose endpoint is configured by hand. It has no connectivity-check credentials
    /// (the peer's are random and never exchanged), so the link skips the checks and handshakes with the one
    /// configured endpoint at once; the Noise handshake authenticates the peer either way.
    /// </summary>
    internal static LinkDescriptor StaticPeerDescriptor(NodePublicKey key, IPEndPoint endpoint) =>
        new(
            key,
            ImmutableArray.Create(new Candidate(CandidateType.Host, endpoint, Candidate.ComputePriority(CandidateType.Host, 65535), "static")),
            string.Empty,
            string.Empty);

    [LoggerMessage(1, LogLevel.Information, "ipop-tincan ready: interface {Interface} ({Mode}) {Addresses}, public key {PublicKey}, {PeerCount} peer(s)")]
    private static partial void LogReady(ILogger logger, string @interface, string mode, string addresses, string publicKey, int peerCount);

    [LoggerMessage(7, LogLevel.Information, "ipop-tincan ready: no interface of its own, an external controller drives it on {Socket}, public key {PublicKey}")]
    private static partial void LogReadyForController(ILogger logger, string socket, string publicKey);

    [LoggerMessage(2, LogLevel.Information, "link {Peer}: {Status}")]
    private static partial void LogLinkStatus(ILogger logger, string peer, string status);

    // "dropped N" (the total) stays last: scripts and tests read the number after it.
    [LoggerMessage(3, LogLevel.Information, "link {Peer}: {Status}, sent {PacketsSent} pkts/{BytesSent} B, received {PacketsReceived} pkts/{BytesReceived} B, refused spoofed {Spoofed}, replayed {Replayed}, unauthenticated {Unauthenticated}, dropped {Dropped}")]
    private static partial void LogLinkStats(ILogger logger, string peer, string status, long packetsSent, long bytesSent, long packetsReceived, long bytesReceived, long spoofed, long replayed, long unauthenticated, long dropped);

    [LoggerMessage(4, LogLevel.Critical, "ipop-tincan cannot run: {Reason}")]
    private static partial void LogFatal(ILogger logger, string reason);

    [LoggerMessage(6, LogLevel.Information, "ipop-tincan stopped while starting: {Reason}")]
    private static partial void LogStoppedWhileStarting(ILogger logger, string reason);

    [LoggerMessage(5, LogLevel.Warning, "interface {Interface}: the link manager did not let go of it within {Seconds} s; closing it anyway")]
    private static partial void LogDetachSlow(ILogger logger, string @interface, double seconds);
}
