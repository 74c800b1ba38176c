using System.Buffers;
using CmpCluster.Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Gateway;

/// <summary>
/// CMP over HTTP, RFC 6712 / RFC 9811. OpenSSL 3.0 treats every status but 200 and every content type but
/// application/pkixcmp as a transfer failure, so CMP-level errors are 200 with a CMP error message and HTTP
/// statuses mean transport faults only: 400 not DER, 404 unknown alias, 413 too large, 415 wrong content type.
/// </summary>
public static partial class CmpHttpEndpoints
{
    public const string ContentType = "application/pkixcmp";

    public static IServiceCollection AddCmpGateway(this IServiceCollection services) =>
        services.AddSingleton<CmpDispatcher>();

    public static IEndpointRouteBuilder MapCmpEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/.well-known/cmp/p/{alias}", HandleAsync).ForDevices(DeviceTraffic.Cmp);
        endpoints.MapPost("/cmp/{alias}", HandleAsync).ForDevices(DeviceTraffic.Cmp);
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext http, string alias, CmpDispatcher dispatcher, ILoggerFactory loggers)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        // Unknown aliases are counted under one name: a client must not be able to mint metric series.
        bool known = dispatcher.IsKnownAlias(alias);
        try
        {
            await HandleKnownAsync(http, alias, known, dispatcher, loggers);
        }
        finally
        {
            Telemetry.CmpTelemetry.RecordHttp(known ? alias : "(unknown)", http.Response.StatusCode, started);
        }
    }

    private static async Task HandleKnownAsync(HttpContext http, string alias, bool known, CmpDispatcher dispatcher, ILoggerFactory loggers)
    {
        ILogger logger = loggers.CreateLogger("CmpCluster.Gateway");
        if (!known)
        {
            await FaultAsync(http, 404, "unknown CMP alias");
            return;
        }
        if (!IsPkixCmp(http.Request.ContentType))
        {
            await FaultAsync(http, 415, "content type must be application/pkixcmp");
            return;
        }
        int limit = dispatcher.MaxMessageBytes;
        if (http.Request.ContentLength > limit)
        {
            await FaultAsync(http, 413, "message too large");
            return;
        }
        byte[]? body = await ReadBoundedAsync(http.Request.Body, limit, http.RequestAborted);
        if (body is null)
        {
            await FaultAsync(http, 413, "message too large");
            return;
        }

        DispatchResult result;
        try
        {
            result = await dispatcher.DispatchAsync(alias, body);
        }
        catch (Exception e) when (e is TimeoutException or Orleans.Runtime.OrleansException or OperationCanceledException)
        {
            // The cluster did not answer: a transport fault; the gateway has no key to sign a CMP error with.
            LogClusterUnavailable(logger, e, alias);
            await FaultAsync(http, 503, "CA temporarily unavailable");
            return;
        }
        if (result.Body is null)
        {
            await FaultAsync(http, result.StatusCode, result.Reason ?? "bad request");
            return;
        }
        http.Response.StatusCode = 200;
        http.Response.ContentType = ContentType;
        http.Response.ContentLength = result.Body.Length;
        await http.Response.Body.WriteAsync(result.Body, http.RequestAborted);
    }

    private static bool IsPkixCmp(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }
        int semicolon = contentType.IndexOf(';');
        ReadOnlySpan<char> media = (semicolon < 0 ? contentType : contentType[..semicolon]).AsSpan().Trim();
        return media.Equals(ContentType, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Reads at most <paramref name="limit"/> bytes; null when the body is longer (never buffers more than limit + 1).</summary>
    internal static async Task<byte[]?> ReadBoundedAsync(Stream body, int limit, CancellationToken cancel)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(limit + 1);
        try
        {
            int total = 0;
            while (total <= limit)
            {
                int read = await body.ReadAsync(buffer.AsMemory(total, limit + 1 - total), cancel);
                if (read == 0)
                {
                    return buffer.AsSpan(0, total).ToArray();
                }
                total += read;
            }
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    internal static Task FaultAsync(HttpContext http, int status, string reason)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain";
        return http.Response.WriteAsync(reason + "\n");
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "cmp alias={Alias}: cluster did not answer")]
    private static partial void LogClusterUnavailable(ILogger logger, Exception exception, string alias);
}
