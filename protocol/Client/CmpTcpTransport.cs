using System.Net.Sockets;
using CmpCluster.Protocol.Transport;

namespace CmpCluster.Protocol.Client;

/// <summary>The server answered with errorMsgRep, finRep or a frame this client cannot read; the connection is closed.</summary>
public sealed class CmpTcpTransportException(string message, CmpTcpFrame? frame = null) : IOException(message)
{
    /// <summary>The frame that ended the exchange, when there was one.</summary>
    public CmpTcpFrame? Frame { get; } = frame;
}

/// <summary>
/// CMP over TCP (see <see cref="CmpTcpFrame"/> for the framing), one connection, any number of request/response
/// exchanges on it (keep-alive). Used by the tests and the load generator. Not thread-safe: one exchange at a time.
/// </summary>
public sealed class CmpTcpTransport : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private CmpTcpTransport(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>Largest response value accepted; a larger announced length fails before allocation.</summary>
    public int MaxResponseBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Time allowed for the whole response, from the request written to its last byte.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether the server announced (closeConnection flag) or performed a close.</summary>
    public bool ServerClosed { get; private set; }

    /// <summary>The raw stream, for tests that write malformed frames.</summary>
    public NetworkStream Stream => _stream;

    public static Task<CmpTcpTransport> ConnectAsync(string host, int port, CancellationToken cancel = default) =>
        ConnectAsync(host, port, localAddress: null, cancel);

    /// <summary>Connects from <paramref name="localAddress"/> when given (e.g. another loopback address, as another client).</summary>
    public static async Task<CmpTcpTransport> ConnectAsync(string host, int port, System.Net.IPAddress? localAddress, CancellationToken cancel = default)
    {
        var client = localAddress is null ? new TcpClient() : new TcpClient(new System.Net.IPEndPoint(localAddress, 0));
        client.NoDelay = true;
        try
        {
            await client.ConnectAsync(host, port, cancel);
            return new CmpTcpTransport(client);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Sends a DER PKIMessage as pkiReq and returns the DER of the pkiRep.</summary>
    public async Task<byte[]> ExchangeAsync(byte[] der, bool closeConnection = false, CancellationToken cancel = default)
    {
        await SendAsync(CmpTcpFrame.Request(der, closeConnection), cancel);
        CmpTcpFrame response = await ReceiveAsync(cancel);
        return response.Type switch
        {
            CmpTcpMessageType.PkiRep => response.Value,
            CmpTcpMessageType.ErrorMsgRep when response.ReadError() is { } error =>
                throw new CmpTcpTransportException($"errorMsgRep {error.Code}: {error.Text}", response),
            _ => throw new CmpTcpTransportException($"unexpected {response.Type}", response),
        };
    }

    public async Task SendAsync(CmpTcpFrame frame, CancellationToken cancel = default)
    {
        await _stream.WriteAsync(frame.Encode(), cancel);
        await _stream.FlushAsync(cancel);
    }

    /// <summary>Reads the next frame; throws when the server closed or the response is malformed or late.</summary>
    public async Task<CmpTcpFrame> ReceiveAsync(CancellationToken cancel = default)
    {
        CmpTcpReadResult result = await CmpTcpFrameReader.ReadAsync(_stream, MaxResponseBytes, fromClient: false, ResponseTimeout, ResponseTimeout, cancel);
        if (result.Status != CmpTcpReadStatus.Frame)
        {
            ServerClosed = true;
            throw new CmpTcpTransportException(result.Status == CmpTcpReadStatus.Fault ? $"bad response frame: {result.Fault}" : $"no response: {result.Status}");
        }
        ServerClosed |= result.Frame.CloseConnection;
        return result.Frame;
    }

    /// <summary>True when the server closes the connection (EOF or reset) within <paramref name="timeout"/>, without sending anything.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        using var wait = new CancellationTokenSource(timeout);
        var buffer = new byte[1];
        try
        {
            return await _stream.ReadAsync(buffer, wait.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
