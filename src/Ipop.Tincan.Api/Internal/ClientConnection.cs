using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.Api.Internal;

/// <summary>
/// One connected controller: reads request lines in order, and writes responses and events from one
/// bounded queue. Responses wait for room (back-pressure on this client's own requests only); events
/// never wait: when the queue is full they are dropped and counted, and the client is told with an
/// <c>events_dropped</c> event as soon as its queue moves again. Tincan's threads therefore never block
/// on a controller that stopped reading.
/// </summary>
internal sealed class ClientConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Channel<byte[]> _outgoing;
    private readonly CancellationTokenSource _cts = new();
    private readonly int _maxRequestBytes;
    private readonly ILogger _logger;
    private long _droppedPending;
    private long _droppedTotal;
    private long _droppedReported;
    private int _subscriptions;
    private int _disposed;
    private CancellationTokenSource? _statsLoop;
    private Task _writer = Task.CompletedTask;

    public ClientConnection(int session, Socket socket, int queueCapacity, int maxRequestBytes, ILogger logger)
    {
        Session = session;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _maxRequestBytes = maxRequestBytes;
        _logger = logger;
        _outgoing = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(queueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    public int Session { get; }

    public EventKinds Subscriptions
    {
        get => (EventKinds)Volatile.Read(ref _subscriptions);
        set => Volatile.Write(ref _subscriptions, (int)value);
    }

    /// <summary>Minimum level of <c>log</c> events for this client.</summary>
    public LogLevel LogLevel { get; set; } = LogLevel.Information;

    public long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    public CancellationToken Closing => _cts.Token;

    /// <summary>Reads and handles request lines until the peer closes, a line is too large, or the server stops.</summary>
    public async Task RunAsync(Func<ClientConnection, ReadOnlySequence<byte>, ValueTask> handleLine)
    {
        _writer = Task.Run(WriteLoopAsync);
        PipeReader reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true, bufferSize: 16 * 1024));
        try
        {
            while (true)
            {
                ReadResult read = await reader.ReadAsync(_cts.Token);
                ReadOnlySequence<byte> buffer = read.Buffer;
                bool tooLarge = false;
                while (TryReadLine(ref buffer, out ReadOnlySequence<byte> line))
                {
                    if (line.Length > _maxRequestBytes)
                    {
                        tooLarge = true;
                        break;
                    }

                    if (!line.IsEmpty)
                    {
                        await handleLine(this, line);
                    }
                }

                if (tooLarge || buffer.Length > _maxRequestBytes)
                {
                    // Without a newline in sight we cannot find the next request's start, so the only safe answer is to close.
                    await SendFinalAsync(Wire.Error(RequestId.None, ApiErrorCodes.RequestTooLarge, $"A request line is limited to {_maxRequestBytes} bytes; closing the connection."));
                    return;
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (read.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or ChannelClosedException or ObjectDisposedException)
        {
            // The client went away or the server is stopping: either way this session is over.
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>Queues a response, waiting for room; only this client's request loop waits.</summary>
    public ValueTask SendResponseAsync(byte[] message) => _outgoing.Writer.WriteAsync(message, _cts.Token);

    /// <summary>Queues an event without ever waiting; returns <c>false</c> (and counts) when it was dropped.</summary>
    public bool TrySendEvent(byte[] message)
    {
        if (_outgoing.Writer.TryWrite(message))
        {
            return true;
        }

        Interlocked.Increment(ref _droppedPending);
        Interlocked.Increment(ref _droppedTotal);
        return false;
    }

    /// <summary>Sends one error and closes, without reading any request (the server is full).</summary>
    public async Task RejectAsync(byte[] message)
    {
        _writer = Task.Run(WriteLoopAsync);
        await SendFinalAsync(message);
    }

    /// <summary>Queues one last message (an error) and closes after it was written or after a short grace period.</summary>
    public async Task SendFinalAsync(byte[] message)
    {
        if (_outgoing.Writer.TryWrite(message))
        {
            _outgoing.Writer.TryComplete();
            await Task.WhenAny(_writer, Task.Delay(TimeSpan.FromSeconds(1)));
        }
    }

    /// <summary>Starts (or replaces) a periodic task; used for <c>stats</c> events.</summary>
    public void ReplaceStatsLoop(Func<CancellationToken, Task>? loop)
    {
        CancellationTokenSource? previous = Interlocked.Exchange(ref _statsLoop, null);
        previous?.Cancel();
        previous?.Dispose();
        if (loop is null)
        {
            return;
        }

        var cts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        _statsLoop = cts;
        // Called directly so the loop's timer exists before the subscribe response is sent (tests advance a fake clock right after).
        _ = loop(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        // Both the session's own end and the server's shutdown dispose a connection; the first one does the work.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ReplaceStatsLoop(null);
        await _cts.CancelAsync();
        _outgoing.Writer.TryComplete();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        await _stream.DisposeAsync();
        try
        {
            await _writer;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }

        _cts.Dispose();
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (byte[] message in _outgoing.Reader.ReadAllAsync(_cts.Token))
            {
                await _stream.WriteAsync(message, _cts.Token);
                if (Interlocked.Read(ref _droppedPending) > 0)
                {
                    // "total" is the sum of every "dropped" told so far, so a client can check it missed no notice.
                    long dropped = Interlocked.Exchange(ref _droppedPending, 0);
                    _droppedReported += dropped;
                    ApiLog.EventsDropped(_logger, Session, dropped, _droppedReported);
                    await _stream.WriteAsync(Wire.Event(EventKindNames.EventsDropped, new EventsDroppedEvent(dropped, _droppedReported), ApiJsonContext.Wire.EventsDroppedEvent), _cts.Token);
                }
            }
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The client went away; the read loop sees it too and ends the session.
            await _cts.CancelAsync();
        }
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        SequencePosition? newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, newline.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        if (!line.IsEmpty && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        return true;
    }
}
