using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CmpCluster.Gateway.RateLimiting;
using CmpCluster.Gateway.Telemetry;
using CmpCluster.Protocol.Transport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Tcp;

/// <summary>
/// CMP over TCP with EJBCA's cmptcp framing (<see cref="CmpTcpFrame"/>): pkiReq frames in, pkiRep frames out, through the
/// same <see cref="CmpDispatcher"/> as HTTP. Several requests per connection; the client's closeConnection flag, any
/// transport error and host shutdown close it. Transport errors are answered with errorMsgRep and a close; a cluster that
/// does not answer closes the connection without a reply (the gateway has no key to sign a CMP error with).
/// Rate limits (<see cref="GatewayRateLimiter"/>, shared with HTTP): a connection from an address without a token left is
/// accepted and closed at once; a frame over the per-address or per-alias limit (<c>Tcp:Alias</c>) is not answered and its
/// connection is closed (EJBCA's cmptcp has no error for it; a closed connection is what any client understands).
/// </summary>
public sealed partial class CmpTcpListener(
    CmpDispatcher dispatcher, IOptions<TcpOptions> options, GatewayRateLimiter limiter, RateLimitReporter rateLimits,
    ILogger<CmpTcpListener> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private int _open;

    /// <summary>The bound endpoint while listening (useful with port 0 in tests).</summary>
    public IPEndPoint? LocalEndpoint => _listener?.LocalEndpoint as IPEndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        TcpOptions settings = options.Value;
        if (!settings.Enabled)
        {
            return Task.CompletedTask;
        }
        var listener = new TcpListener(IPAddress.Parse(settings.Address), settings.Port);
        try
        {
            listener.Start(backlog: 512);
        }
        catch (SocketException e)
        {
            // Program reports IOExceptions as a failed start with this text; "address already in use" stays in it.
            throw new IOException($"{TcpOptions.Section}:{nameof(TcpOptions.Port)} {settings.Address}:{settings.Port}: {e.Message}", e);
        }
        _listener = listener;
        LogListening(logger, settings.Address, settings.Port, settings.Alias);
        _acceptLoop = AcceptLoopAsync(listener, settings);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null)
        {
            return;
        }
        // Stop accepting and end the waits between requests; requests already at the cluster are answered (with the
        // close flag) unless the host's shutdown timeout ends first.
        await _stopping.CancelAsync();
        _listener.Stop();
        try
        {
            await Task.WhenAll(_connections.Keys.Append(_acceptLoop)).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Shutdown timeout: the remaining sockets are closed with the process.
        }
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener, TcpOptions settings)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || (e is SocketException && _stopping.IsCancellationRequested))
            {
                return;
            }
            catch (SocketException e)
            {
                // A connection reset before accept completed: nothing to serve.
                LogAcceptFailed(logger, e.SocketErrorCode);
                continue;
            }
            if (Interlocked.Increment(ref _open) > settings.MaxConnections)
            {
                Interlocked.Decrement(ref _open);
                LogTooManyConnections(logger, settings.MaxConnections);
                socket.Dispose();
                continue;
            }
            string address = GatewayRateLimiter.AddressKey((socket.RemoteEndPoint as IPEndPoint)?.Address);
            if (!limiter.AddressHasTokens(address))
            {
                Interlocked.Decrement(ref _open);
                rateLimits.Refused("tcp", RateLimitKind.Address, settings.Alias, address);
                socket.Dispose();
                continue;
            }
            Task connection = ServeAsync(socket, settings, address);
            _connections.TryAdd(connection, 0);
            _ = connection.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket socket, TcpOptions settings, string address)
    {
        await Task.Yield();
        socket.NoDelay = true;
        using var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            while (await ServeOneAsync(stream, settings, address))
            {
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away or the host is stopping: nothing to answer.
        }
        catch (Exception e)
        {
            LogConnectionFailed(logger, e);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>Reads and answers one frame; false when the connection is to be closed.</summary>
    private async Task<bool> ServeOneAsync(NetworkStream stream, TcpOptions settings, string address)
    {
        string alias = settings.Alias;
        CmpTcpReadResult read = await CmpTcpFrameReader.ReadAsync(
            stream, dispatcher.MaxMessageBytes, fromClient: true, settings.IdleTimeout, settings.ReadTimeout, _stopping.Token);
        long started = Stopwatch.GetTimestamp();
        switch (read.Status)
        {
            case CmpTcpReadStatus.Closed or CmpTcpReadStatus.IdleTimeout:
                return false;
            case CmpTcpReadStatus.ReadTimeout:
                CmpTelemetry.RecordTcp(alias, 408, started);
                return false;
            case CmpTcpReadStatus.Truncated:
                CmpTelemetry.RecordTcp(alias, 400, started);
                return false;
            case CmpTcpReadStatus.Fault:
                (CmpTcpError code, string text, int status) = read.Fault switch
                {
                    CmpTcpHeaderFault.TooLarge => (CmpTcpError.MessageTooLarge, "message too large", 413),
                    CmpTcpHeaderFault.BadVersion => (CmpTcpError.VersionNotSupported, "only version 10 is supported", 400),
                    CmpTcpHeaderFault.BadMessageType => (CmpTcpError.MessageTypeNotSupported, "only pkiReq (0) is supported", 400),
                    _ => (CmpTcpError.BadMessage, "bad frame length", 400),
                };
                await SendAsync(stream, CmpTcpFrame.Error(code, text), alias, status, started);
                return false;
        }

        if (!dispatcher.IsKnownAlias(alias))
        {
            // Validated at start; only a configuration reload that removed the alias gets here.
            await SendAsync(stream, CmpTcpFrame.Error(CmpTcpError.BadMessage, "unknown CMP alias"), alias, 404, started);
            return false;
        }
        // Held until the answer is written: the alias's concurrency permit covers the whole exchange.
        using GatewayLease lease = limiter.Acquire(address, alias);
        if (!lease.IsAcquired)
        {
            rateLimits.Refused("tcp", lease.RefusedBy!.Value, alias, address);
            CmpTelemetry.RecordTcp(alias, 429, started);
            return false;
        }
        DispatchResult result;
        try
        {
            result = await dispatcher.DispatchAsync(alias, read.Frame.Value);
        }
        catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException or OperationCanceledException)
        {
            LogClusterUnavailable(logger, e, alias);
            CmpTelemetry.RecordTcp(alias, 503, started);
            return false;
        }
        if (result.Body is null)
        {
            await SendAsync(stream, CmpTcpFrame.Error(CmpTcpError.BadMessage, result.Reason ?? "bad message"), alias, result.StatusCode, started);
            return false;
        }
        bool close = read.Frame.CloseConnection || _stopping.IsCancellationRequested;
        await SendAsync(stream, CmpTcpFrame.Response(result.Body, close), alias, 200, started);
        return !close;
    }

    private static async Task SendAsync(NetworkStream stream, CmpTcpFrame frame, string alias, int status, long started)
    {
        try
        {
            // Bounded like the reads: a peer that stops reading cannot hold the connection forever.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await stream.WriteAsync(frame.Encode(), timeout.Token);
        }
        finally
        {
            CmpTelemetry.RecordTcp(alias, status, started);
        }
    }

    [LoggerMessage(EventId = 420, Level = LogLevel.Information, Message = "CMP over TCP listening on {Address}:{Port} (alias {Alias})")]
    private static partial void LogListening(ILogger logger, string address, int port, string alias);

    [LoggerMessage(EventId = 421, Level = LogLevel.Warning, Message = "cmp tcp alias={Alias}: cluster did not answer; connection closed")]
    private static partial void LogClusterUnavailable(ILogger logger, Exception exception, string alias);

    [LoggerMessage(EventId = 422, Level = LogLevel.Warning, Message = "cmp tcp: {MaxConnections} connections open (Tcp:MaxConnections); a new one was closed")]
    private static partial void LogTooManyConnections(ILogger logger, int maxConnections);

    [LoggerMessage(EventId = 423, Level = LogLevel.Debug, Message = "cmp tcp: accept failed ({Error})")]
    private static partial void LogAcceptFailed(ILogger logger, SocketError error);

    [LoggerMessage(EventId = 424, Level = LogLevel.Error, Message = "cmp tcp: connection failed")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception);
}

public static class CmpTcpServiceCollectionExtensions
{
    /// <summary>CMP over TCP (section <c>Tcp</c>). Register after <c>UseOrleans</c>: hosted services stop in reverse
    /// order, so the listener stops (and answers what it has) before the silo does.</summary>
    public static IServiceCollection AddCmpTcpGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TcpOptions>().Bind(configuration.GetSection(TcpOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TcpOptions>, TcpOptionsValidator>();
        services.AddSingleton<CmpTcpListener>();
        services.AddHostedService(sp => sp.GetRequiredService<CmpTcpListener>());
        return services;
    }
}
