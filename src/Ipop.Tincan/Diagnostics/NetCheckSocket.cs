using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Diagnostics;

/// <summary>
/// One UDP socket of one address family that asks several servers at once and matches their answers by transaction
/// id. Each transmission has its own id, so a round-trip time is never measured against the wrong retransmission.
/// </summary>
internal sealed class NetCheckSocket : IDisposable
{
    private static readonly TimeSpan FirstRetransmit = TimeSpan.FromMilliseconds(250);
    private readonly Socket _socket;
    private readonly ConcurrentDictionary<StunTransactionId, (NetCheckTarget Target, long SentAt)> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _receiving;

    private NetCheckSocket(Socket socket) => _socket = socket;

    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>A bound socket, or null when this host has no such address family (no IPv6, say).</summary>
    public static NetCheckSocket? TryOpen(AddressFamily family)
    {
        Socket? socket = null;
        try
        {
            socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
            if (family == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }

            socket.Bind(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0));
            return new NetCheckSocket(socket);
        }
        catch (SocketException)
        {
            socket?.Dispose();
            return null;
        }
    }

    /// <summary>Asks <paramref name="target"/> until it answers or <paramref name="timeout"/> passes (then its error says so).</summary>
    public async Task AskAsync(NetCheckTarget target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _receiving ??= ReceiveLoopAsync(_stop.Token);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        TimeSpan gap = FirstRetransmit;
        while (!deadline.IsCancellationRequested)
        {
            try
            {
                Send(target);
            }
            catch (SocketException e)
            {
                target.Error = $"cannot send to {target.Address}: {e.Message}";
                return;
            }

            await Task.WhenAny(target.Answered.Task, Task.Delay(gap, deadline.Token)).ConfigureAwait(false);
            if (target.Answered.Task.IsCompleted)
            {
                return;
            }

            gap *= 2;
        }

        cancellationToken.ThrowIfCancellationRequested();
        target.Error ??= string.Create(CultureInfo.InvariantCulture, $"no answer in {timeout.TotalSeconds:0.#} s");
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }

    private void Send(NetCheckTarget target)
    {
        Span<byte> buffer = stackalloc byte[64];
        var id = StunTransactionId.NewRandom();
        bool turn = target.Kind == "turn";
        var writer = new StunMessageWriter(buffer, turn ? StunMethod.Allocate : StunMethod.Binding, StunMessageClass.Request, id);
        if (turn)
        {
            // An unauthenticated Allocate: a live TURN server answers 401 at once, which is all the latency needs.
            writer.AppendRequestedTransport((byte)ProtocolType.Udp);
        }

        writer.AppendFingerprint();
        _pending[id] = (target, Stopwatch.GetTimestamp());
        _socket.SendTo(writer.Written, SocketFlags.None, target.Address!);
    }

    private async Task ReceiveLoopAsync(CancellationToken stop)
    {
        byte[] buffer = new byte[2048];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error for one server must not end the others' answers.
                continue;
            }

            OnDatagram(buffer.AsSpan(0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint);
        }
    }

    private void OnDatagram(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        if (StunMessage.TryParse(datagram, out StunMessage message) != StunParseError.None
            || message.Class is not (StunMessageClass.SuccessResponse or StunMessageClass.ErrorResponse)
            || !_pending.TryGetValue(message.TransactionId, out (NetCheckTarget Target, long SentAt) pending)
            || !pending.Target.Address!.Equals(from)
            || (message.HasFingerprint && !message.VerifyFingerprint()))
        {
            // Not an answer to us from the server we asked: ignore it (an off-path guess must not set the result).
            return;
        }

        _pending.TryRemove(message.TransactionId, out _);
        NetCheckTarget target = pending.Target;
        if (target.Answered.Task.IsCompleted)
        {
            return;
        }

        target.RoundTrip = Stopwatch.GetElapsedTime(pending.SentAt);
        if (target.Kind == "stun")
        {
            if (message.Class == StunMessageClass.ErrorResponse)
            {
                target.Error = message.TryGetErrorCode(out int code, out _)
                    ? string.Create(CultureInfo.InvariantCulture, $"answered with error {code}")
                    : "answered with an error";
            }
            else if ((message.TryGetXorAddress(StunAttributeType.XorMappedAddress, out IPEndPoint? mapped) || message.TryGetMappedAddress(out mapped)) && mapped is not null)
            {
                target.Mapped = mapped;
            }
            else
            {
                target.Error = "answered without a mapped address";
            }
        }

        target.Answered.TrySetResult();
    }
}
