using System.Diagnostics;
using CmpCluster.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>An external Orleans client (its own host) connected to a node's gateway port, for reading grain state.</summary>
public sealed class OrleansTestClient : IAsyncDisposable
{
    private readonly IHost _host;

    private OrleansTestClient(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<IClusterClient>();
    }

    public IClusterClient Client { get; }

    /// <summary>A client is not a silo: it reaches only the gateway-facing grains, here the admin facade.</summary>
    public IAdminGrain Admin => Client.GetGrain<IAdminGrain>(GrainKeys.Admin);

    public async Task<CertificateRecord?> CertificateAsync(string ca, string serialHex) => (await Admin.GetCertificateAsync(ca, serialHex)).Value;

    /// <summary>By certificate grain key (CA/serial), as end entities list them.</summary>
    public Task<CertificateRecord?> CertificateAsync(string key) => CertificateAsync(key[..key.LastIndexOf('/')], key[(key.LastIndexOf('/') + 1)..]);

    public async Task<EndEntityView?> EndEntityAsync(string username) => (await Admin.GetEndEntityAsync(username)).Value;

    /// <summary>Registers an end entity (status NEW) under the default CA and profiles; the view, or null when refused.</summary>
    public async Task<EndEntityView?> RegisterAsync(string username, string subjectDn, string? enrollmentCode)
    {
        AdminReply<EndEntityView> reply = await Admin.RegisterEndEntityAsync(
            new EndEntityInput(username, subjectDn, [], "issuing", "default", "default", enrollmentCode), replace: false, "test");
        return reply.Value;
    }

    /// <summary>Connects, retrying for up to <paramref name="timeout"/> (default 30 s) while the gateway is not ready.</summary>
    public static async Task<OrleansTestClient> ConnectAsync(int gatewayPort, string serviceId, string clusterId, TimeSpan? timeout = null)
    {
        var stopwatch = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(30);
        while (true)
        {
            IHost host = new HostBuilder()
                .UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, serviceId, clusterId))
                .Build();
            try
            {
                using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await host.StartAsync(cancel.Token);
                return new OrleansTestClient(host);
            }
            catch (Exception) when (stopwatch.Elapsed < limit)
            {
                host.Dispose();
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
            catch
            {
                host.Dispose();
                throw;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _host.StopAsync(cancel.Token);
        }
        catch (Exception)
        {
            // The node may already be gone (killed by the test): nothing to close gracefully.
        }
        _host.Dispose();
    }
}
