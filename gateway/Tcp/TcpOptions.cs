using System.ComponentModel.DataAnnotations;
using System.Net;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Tcp;

/// <summary>
/// CMP over TCP (section <c>Tcp</c>), EJBCA's cmptcp: one listener, every request routed to one alias. Message size is
/// <c>Cmp:Limits:MaxMessageBytes</c>, as for HTTP.
/// </summary>
public sealed class TcpOptions
{
    public const string Section = "Tcp";

    /// <summary>Whether the listener runs. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Address to bind: an IP literal; 0.0.0.0 or :: for every interface. Default 127.0.0.1.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>Port. Default 8829 (EJBCA's suggestion of an unprivileged port; the old default was 829).</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 8829;

    /// <summary>The CMP alias every TCP request uses (EJBCA: always <c>tcp</c>). Must be a configured alias.</summary>
    public string Alias { get; set; } = "tcp";

    /// <summary>Longest wait for the first byte of a frame (before the first request and between requests). Default 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest time from a frame's first byte to its last. Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Open connections at most; one more is accepted and closed at once. Default 1024.</summary>
    [Range(1, 100_000)]
    public int MaxConnections { get; set; } = 1024;
}

/// <summary>Start-time checks (the ranges through their attributes, <see cref="OptionAnnotations"/>); each failure names its key.</summary>
public sealed class TcpOptionsValidator(IOptions<CmpOptions> cmp) : IValidateOptions<TcpOptions>
{
    public ValidateOptionsResult Validate(string? name, TcpOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }
        const string s = TcpOptions.Section;
        var failures = new List<string>();
        OptionAnnotations.Validate(options, s, failures);
        if (!IPAddress.TryParse(options.Address, out _))
        {
            failures.Add($"{s}:{nameof(TcpOptions.Address)} must be an IP address (e.g. 127.0.0.1 or 0.0.0.0)");
        }
        if (!cmp.Value.Aliases.ContainsKey(options.Alias ?? ""))
        {
            failures.Add($"{s}:{nameof(TcpOptions.Alias)} '{options.Alias}' is not a configured alias (Cmp:Aliases); set it, or Tcp:Enabled=false");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
