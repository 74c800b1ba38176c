using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// One running node per test class (<c>IClassFixture&lt;NodeFixture&gt;</c>), with the shipped <c>ra</c> alias plus:
/// <list type="bullet">
/// <item><c>ra-sig</c>: secret <c>sigsecret</c>, responses signed by the CMP signer;</item>
/// <item><c>ra-noic</c>: secret <c>noicsecret</c>, MAC-protected responses, implicit confirmation never granted.</item>
/// </list>
/// </summary>
public sealed class NodeFixture : IAsyncLifetime
{
    public const string SigAlias = "ra-sig";
    public const string SigSecret = "sigsecret";
    public const string NoImplicitConfirmAlias = "ra-noic";
    public const string NoImplicitConfirmSecret = "noicsecret";

    public static readonly string[] ExtraAliases =
    [
        $"--Cmp:Aliases:{SigAlias}:Secret={SigSecret}",
        $"--Cmp:Aliases:{SigAlias}:ResponseProtection=Signature",
        $"--Cmp:Aliases:{NoImplicitConfirmAlias}:Secret={NoImplicitConfirmSecret}",
        $"--Cmp:Aliases:{NoImplicitConfirmAlias}:ResponseProtection=Pbe",
        $"--Cmp:Aliases:{NoImplicitConfirmAlias}:AllowImplicitConfirm=false",
    ];

    private readonly SemaphoreSlim _clientLock = new(1, 1);
    private NodeProcess? _node;
    private OrleansTestClient? _client;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("the node fixture is not started");

    /// <summary>An Orleans client on the node's gateway, connected on first use and shared by the class.</summary>
    public async Task<OrleansTestClient> ClientAsync()
    {
        await _clientLock.WaitAsync();
        try
        {
            return _client ??= await Node.ConnectClientAsync();
        }
        finally
        {
            _clientLock.Release();
        }
    }

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync(ExtraAliases);

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        _clientLock.Dispose();
    }
}
