using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Hosting;

/// <summary>
/// The management listener (section <c>Management</c>): the admin API, its OpenAPI document, <c>/metrics</c> and the
/// Orleans Dashboard are served there, apart from the device listener (CMP, CRL, OCSP, health) that faces the internet.
/// </summary>
public sealed class ManagementOptions
{
    public const string Section = "Management";
    public const string DefaultUrls = "http://127.0.0.1:8081";

    /// <summary>
    /// Where the management listener binds: URLs separated by ';' as in <c>--urls</c>, each with an explicit port that no
    /// device listener uses. Default <c>http://127.0.0.1:8081</c> (loopback only). Empty: no management listener, which
    /// needs <see cref="ServeOnDevicePort"/>.
    /// </summary>
    public string? Urls { get; set; } = DefaultUrls;

    /// <summary>Also serve the management surfaces on the device listener, for a deployment that filters paths in front of
    /// it. Default false: management paths on the device listener are 404.</summary>
    public bool ServeOnDevicePort { get; set; }

    public IReadOnlyList<string> UrlList =>
        (Urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The port of a management URL: http or https, explicit port 1..65535; null when the URL is not one.</summary>
    public static int? PortOf(string url)
    {
        try
        {
            BindingAddress address = BindingAddress.Parse(url);
            bool web = address.Scheme is "http" or "https";
            string authority = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..].Split('/')[0];
            bool explicitPort = authority[(authority.LastIndexOf(']') + 1)..].Contains(':');
            return web && explicitPort && !address.IsUnixPipe && address.Port is > 0 and <= 65535 ? address.Port : null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>Start-time checks; each failure names its key. The device ports come from <see cref="GatewayListeners"/>.</summary>
public sealed class ManagementOptionsValidator(GatewayListeners listeners) : IValidateOptions<ManagementOptions>
{
    public ValidateOptionsResult Validate(string? name, ManagementOptions options)
    {
        const string key = $"{ManagementOptions.Section}:{nameof(ManagementOptions.Urls)}";
        var failures = new List<string>();
        if (options.UrlList.Count == 0 && !options.ServeOnDevicePort)
        {
            failures.Add($"{key} is empty: set it (e.g. http://127.0.0.1:8081), or set {ManagementOptions.Section}:{nameof(ManagementOptions.ServeOnDevicePort)}=true");
        }
        foreach (string url in options.UrlList)
        {
            int? port = ManagementOptions.PortOf(url);
            if (port is null)
            {
                failures.Add($"{key} '{url}' must be http://HOST:PORT or https://HOST:PORT with an explicit port 1-65535");
            }
            else if (listeners.DevicePorts.Contains(port.Value))
            {
                failures.Add($"{key} '{url}': port {port} is also a device port; choose another port, or set {ManagementOptions.Section}:{nameof(ManagementOptions.ServeOnDevicePort)}=true");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
