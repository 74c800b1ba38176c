using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>DESIGN §6: a bad configuration stops the process at start, with a message that names the key.</summary>
public sealed class ConfigurationValidationTests
{
    [Theory]
    [InlineData("--Cmp:Aliases:ra:ConfirmWaitTime=-00:00:01", "Cmp:Aliases:ra:ConfirmWaitTime")]
    [InlineData("--Cmp:Limits:MaxMessageBytes=10", "Cmp:Limits:MaxMessageBytes")]
    [InlineData("--Tcp:Alias=no-such-alias", "Tcp:Alias")]
    public async Task Bad_setting_stops_the_node_with_a_message_naming_the_key(string argument, string key)
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => NodeProcess.StartAsync([argument], timeout: TimeSpan.FromSeconds(60)));

        Assert.Contains("exited with code", failure.Message);
        Assert.Contains(key, failure.Message.Split("--- node output ---")[1]);
    }
}
