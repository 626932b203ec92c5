using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using Ipop.Tincan.Api.Internal;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Ipop.Tincan.Api;

/// <summary>
/// Serves an <see cref="ITincan"/> to controllers in other processes: newline-delimited JSON requests,
/// responses and events over a Unix domain socket (protocol described in <c>docs/controller-api.md</c>).
/// </summary>
/// <remarks>
/// One connected client at a time controls the Tincan (the first to send <c>session.claim</c> or any
/// mutating operation); the others may read and subscribe to events. Control passes on when the owner
/// disconnects or sends <c>session.release</c>. The host starts the Tincan itself; the server only
/// subscribes to its events and calls it on behalf of clients.
/// </remarks>
public sealed partial class ControllerApiServer : IHostedService, IAsyncDisposable
{
    /// <summary>Pending connections the socket queues beyond MaxClients: a burst is answered, not refused by the kernel.</summary>
    private const int AcceptBacklog = 4096;

    private readonly ControllerApiOptions _options;
    private readonly ITincan _tincan;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IVirtualInterfaceFactory? _interfaces;
    private readonly IControllerRouterFactory _routers;
    private readonly ConcurrentDictionary<int, ClientConnection> _clients = new();
    private readonly ConcurrentDictionary<int, Task> _sessions = new();
    private readonly SemaphoreSlim _mutationGate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private ClientConnection? _owner;
    private int _nextSession;
    private int _state; // 0 new, 1 started, 2 stopped
    private int _logThreshold = (int)LogLevel.None;

    /// <summary>Creates the server; <see cref="StartAsync"/> opens the socket.</summary>
    /// <param name="options">Socket path and limits; validated here.</param>
    /// <param name="tincan">The link manager to serve.</param>
    /// <param name="logger">Log sink; none when <c>null</c>.</param>
    /// <param name="timeProvider">Clock for <c>stats</c> events; the system clock when <c>null</c>.</param>
    /// <param name="interfaces">Creates NICs for <c>interface.create</c>; without it interface operations answer <c>unsupported</c>.</param>
    /// <param name="routers">Makes the router attached with a NIC; the built-in routers when <c>null</c>.</param>
    /// <exception cref="OptionsValidationException">The options are invalid; the failures name each setting.</exception>
    public ControllerApiServer(
        IOptions<ControllerApiOptions> options,
        ITincan tincan,
        ILogger<ControllerApiServer>? logger = null,
        TimeProvider? timeProvider = null,
        IVirtualInterfaceFactory? interfaces = null,
        IControllerRouterFactory? routers = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tincan);
        _options = options.Value;
        ValidateOptionsResult validation = new ControllerApiOptionsValidator().Validate(Options.DefaultName, _options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(ControllerApiOptions), validation.Failures);
        }

        _tincan = tincan;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _interfaces = interfaces;
        _routers = routers ?? BuiltInRouterFactory.Instance;
    }

    /// <summary>The socket path the server listens on.</summary>
    public string SocketPath => _options.SocketPath;

    /// <summary>Number of connected clients.</summary>
    public int ClientCount => _clients.Count;

    /// <summary>Forwards the host's log records as <c>log</c> events; set by <c>AddTincanControllerApi</c>.</summary>
    internal LogForwarder? LogForwarder { get; init; }

    /// <summary>
    /// Checks the socket path, binds the socket with mode 0600 and starts accepting clients.
    /// </summary>
    /// <exception cref="InvalidOperationException">The directory is world-writable without the sticky bit, or a non-socket file or a live server is at the path.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The controller API server was started already.");
        }

        string path = _options.SocketPath;
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            UnixSocketFile.CheckDirectory(path);
            UnixSocketFile.RemoveStale(path);
            UnixSocketFile.BindPrivate(listener, path);
            // The backlog holds connections the accept loop has not reached yet. It must not be what limits clients:
            // a burst larger than it fails at connect() with EAGAIN, where a client is promised too_many_clients.
            // The kernel caps it at net.core.somaxconn (4096 by default).
            listener.Listen(Math.Max(_options.MaxClients, AcceptBacklog));
        }
        catch
        {
            // Nothing of ours is at the path: a later StopAsync must not remove what another process owns.
            Volatile.Write(ref _state, 2);
            listener.Dispose();
            throw;
        }

        _listener = listener;
        _tincan.LinkStatusChanged += OnLinkStatusChanged;
        _tincan.ControlMessageReceived += OnControlMessageReceived;
        LogForwarder?.Attach(this);
        _acceptLoop = Task.Run(AcceptLoopAsync, CancellationToken.None);
        ApiLog.Listening(_logger, path);
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting, disconnects every client, removes the interface the API created and the socket file.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        LogForwarder?.Detach(this);
        _tincan.LinkStatusChanged -= OnLinkStatusChanged;
        _tincan.ControlMessageReceived -= OnControlMessageReceived;
        await _stopping.CancelAsync();
        _listener?.Dispose();
        await _acceptLoop;
        foreach (ClientConnection client in _clients.Values)
        {
            await client.DisposeAsync();
        }

        await Task.WhenAll(_sessions.Values).WaitAsync(cancellationToken);
        await _mutationGate.WaitAsync(cancellationToken);
        try
        {
            await RemoveInterfaceAsync(cancellationToken);
        }
        finally
        {
            _mutationGate.Release();
        }

        UnixSocketFile.RemoveIfSocket(_options.SocketPath);
        ApiLog.Stopped(_logger, _options.SocketPath);
    }

    /// <summary>Same as <see cref="StopAsync"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        Interlocked.Exchange(ref _state, 2);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (_stopping.IsCancellationRequested && e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                // E.g. EMFILE: back off instead of spinning; the listener itself is still fine.
                ApiLog.AcceptFailed(_logger, e);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _time, _stopping.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            int session = Interlocked.Increment(ref _nextSession);
            var client = new ClientConnection(session, socket, _options.ClientQueueCapacity, _options.MaxRequestBytes, _logger);
            if (_clients.Count >= _options.MaxClients)
            {
                ApiLog.TooManyClients(_logger, _options.MaxClients);
                _ = RejectAsync(client);
                continue;
            }

            _clients[session] = client;
            _sessions[session] = RunSessionAsync(client);
        }
    }

    private async Task RejectAsync(ClientConnection client)
    {
        await using (client)
        {
            await client.RejectAsync(Wire.Error(RequestId.None, ApiErrorCodes.TooManyClients, $"This Tincan serves at most {_options.MaxClients} controller connection(s) at once (ControllerApi:MaxClients); try again later."));
        }
    }

    private async Task RunSessionAsync(ClientConnection client)
    {
        await Task.Yield();
        ApiLog.Connected(_logger, client.Session);
        try
        {
            await client.RunAsync(HandleLineAsync);
        }
        finally
        {
            _clients.TryRemove(client.Session, out _);
            RecomputeLogThreshold();
            if (Interlocked.CompareExchange(ref _owner, null, client) == client)
            {
                ApiLog.OwnerReleased(_logger, client.Session);
            }

            await client.DisposeAsync();
            _sessions.TryRemove(client.Session, out _);
            ApiLog.Disconnected(_logger, client.Session);
        }
    }

    private async ValueTask HandleLineAsync(ClientConnection client, ReadOnlySequence<byte> line)
    {
        RequestId id = RequestId.None;
        string op = string.Empty;
        byte[] response;
        try
        {
            if (!IsValidUtf8(line))
            {
                throw new ApiException(ApiErrorCodes.MalformedJson, "The request is not valid UTF-8.");
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 32 });
            }
            catch (JsonException e)
            {
                throw new ApiException(ApiErrorCodes.MalformedJson, $"The request is not valid JSON: {e.Message}");
            }

            using (document)
            {
                JsonElement root = document.RootElement;
                JsonElement args = ReadEnvelope(root, out id, out op);
                Result result = await DispatchAsync(client, op, new ArgReader(args));
                response = Wire.Response(id, result.Value, result.TypeInfo);
            }
        }
        catch (ApiException e)
        {
            ApiLog.RequestFailed(_logger, client.Session, e.Code, e.Message);
            response = Wire.Error(id, e.Code, e.Message);
        }
        catch (OperationCanceledException) when (client.Closing.IsCancellationRequested)
        {
            return;
        }
        catch (ObjectDisposedException)
        {
            response = Wire.Error(id, ApiErrorCodes.ShuttingDown, $"{op} failed: Tincan is shutting down.");
        }
        catch (ArgumentException e)
        {
            // Our own checks run first, so this is Tincan applying a rule of its own to the arguments.
            ApiLog.RequestFailed(_logger, client.Session, ApiErrorCodes.InvalidArgs, e.Message);
            response = Wire.Error(id, ApiErrorCodes.InvalidArgs, $"Tincan refused the arguments of {op}: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            ApiLog.RequestFailed(_logger, client.Session, ApiErrorCodes.InvalidState, e.Message);
            response = Wire.Error(id, ApiErrorCodes.InvalidState, $"Tincan refused {op} in its current state: {e.Message}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A bug or an unexpected Tincan failure must cost one request, not the connection or the host.
            ApiLog.OperationCrashed(_logger, client.Session, op, e);
            response = Wire.Error(id, ApiErrorCodes.InternalError, $"{op} failed inside Tincan ({e.GetType().Name}); the Tincan log has details.");
        }

        await client.SendResponseAsync(response);
    }

    private static bool IsValidUtf8(ReadOnlySequence<byte> line)
    {
        if (line.IsSingleSegment)
        {
            return System.Text.Unicode.Utf8.IsValid(line.FirstSpan);
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent((int)line.Length);
        try
        {
            line.CopyTo(copy);
            return System.Text.Unicode.Utf8.IsValid(copy.AsSpan(0, (int)line.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    /// <summary>Reads v, id, op and args; <paramref name="id"/> is set first so envelope errors still echo it.</summary>
    private static JsonElement ReadEnvelope(JsonElement root, out RequestId id, out string op)
    {
        id = RequestId.None;
        op = string.Empty;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ApiException(ApiErrorCodes.InvalidRequest, "A request must be a JSON object such as {\"v\":1,\"id\":1,\"op\":\"version\"}.");
        }

        if (!root.TryGetProperty("id", out JsonElement idElement))
        {
            throw new ApiException(ApiErrorCodes.InvalidRequest, "Field 'id' is required: an integer or a string of at most 256 characters.");
        }
        else if (idElement.ValueKind == JsonValueKind.Number && idElement.TryGetInt64(out long number))
        {
            id = new RequestId(number, null);
        }
        else if (idElement.ValueKind == JsonValueKind.String && ArgReader.TryText(idElement, out string? idText) && idText.Length <= 256)
        {
            id = new RequestId(null, idText);
        }
        else
        {
            throw new ApiException(ApiErrorCodes.InvalidRequest, $"Field 'id': expected an integer or a string of at most 256 characters, got {ArgReader.Describe(idElement)}.");
        }

        {
            if (!root.TryGetProperty("v", out JsonElement v))
            {
                throw new ApiException(ApiErrorCodes.InvalidRequest, $"Field 'v' is required: the protocol version, {Wire.ProtocolVersion}.");
            }

            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version) || version != Wire.ProtocolVersion)
            {
                throw new ApiException(ApiErrorCodes.UnsupportedVersion, $"Field 'v': this server speaks protocol version {Wire.ProtocolVersion}, got {ArgReader.Describe(v)}.");
            }

            if (!root.TryGetProperty("op", out JsonElement opElement) || opElement.ValueKind != JsonValueKind.String)
            {
                throw new ApiException(ApiErrorCodes.InvalidRequest, $"Field 'op': expected the operation name as a string, got {(opElement.ValueKind == JsonValueKind.Undefined ? "nothing" : ArgReader.Describe(opElement))}.");
            }

            JsonElement args = default;
            if (root.TryGetProperty("args", out JsonElement argsElement) && argsElement.ValueKind != JsonValueKind.Null)
            {
                if (argsElement.ValueKind != JsonValueKind.Object)
                {
                    throw new ApiException(ApiErrorCodes.InvalidRequest, $"Field 'args': expected an object, got {ArgReader.Describe(argsElement)}.");
                }

                args = argsElement;
            }

            op = ArgReader.Text(opElement, "Field 'op'", ApiErrorCodes.InvalidRequest);
            return args;
        }
    }

    private void OnLinkStatusChanged(object? sender, LinkStatusChangedEventArgs e)
    {
        try
        {
            if (!AnySubscriber(EventKinds.LinkState))
            {
                return;
            }

            LinkStatus now = e.Current;
            LinkStatus before = e.Previous;
            var data = new LinkStateEvent(
                e.Link.Peer.Value,
                Names.State(now.State),
                Names.Path(now.Path),
                Names.Reason(now.Reason),
                now.Detail,
                new StatusInfo(Names.State(before.State), Names.Path(before.Path), Names.Reason(before.Reason), before.Detail));
            Broadcast(EventKinds.LinkState, Wire.Event(EventKindNames.LinkState, data, ApiJsonContext.Wire.LinkStateEvent));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Raised on a Tincan thread: never let a controller-side failure reach it.
            ApiLog.EventFailed(_logger, ex);
        }
    }

    private void OnControlMessageReceived(object? sender, ControlMessageEventArgs e)
    {
        try
        {
            if (!AnySubscriber(EventKinds.ControlMessage))
            {
                return;
            }

            var data = new ControlMessageEvent(e.Link.Peer.Value, Convert.ToBase64String(e.Message.Span));
            Broadcast(EventKinds.ControlMessage, Wire.Event(EventKindNames.ControlMessage, data, ApiJsonContext.Wire.ControlMessageEvent));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            ApiLog.EventFailed(_logger, ex);
        }
    }

    /// <summary>Called by the log forwarder for each record at or above the lowest level any client asked for.</summary>
    internal void PublishLog(LogLevel level, string category, int eventId, string message)
    {
        byte[]? encoded = null;
        foreach (ClientConnection client in _clients.Values)
        {
            if ((client.Subscriptions & EventKinds.Log) != 0 && level >= client.LogLevel)
            {
                encoded ??= Wire.Event(EventKindNames.Log, new LogEvent(LogLevels.Name(level), category, eventId, message), ApiJsonContext.Wire.LogEvent);
                client.TrySendEvent(encoded);
            }
        }
    }

    /// <summary>The lowest log level any client subscribed to <c>log</c> wants, or <see cref="LogLevel.None"/>; read on every log call.</summary>
    internal LogLevel LogThreshold => (LogLevel)Volatile.Read(ref _logThreshold);

    private void RecomputeLogThreshold()
    {
        LogLevel lowest = LogLevel.None;
        foreach (ClientConnection client in _clients.Values)
        {
            if ((client.Subscriptions & EventKinds.Log) != 0 && client.LogLevel < lowest)
            {
                lowest = client.LogLevel;
            }
        }

        Volatile.Write(ref _logThreshold, (int)lowest);
    }

    private bool AnySubscriber(EventKinds kind)
    {
        foreach (ClientConnection client in _clients.Values)
        {
            if ((client.Subscriptions & kind) != 0)
            {
                return true;
            }
        }

        return false;
    }

    private void Broadcast(EventKinds kind, byte[] message)
    {
        foreach (ClientConnection client in _clients.Values)
        {
            if ((client.Subscriptions & kind) != 0)
            {
                client.TrySendEvent(message);
            }
        }
    }

    private async Task StatsLoopAsync(ClientConnection client, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                client.TrySendEvent(Wire.Event(EventKindNames.Stats, new StatsEvent(AllLinks()), ApiJsonContext.Wire.StatsEvent));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
