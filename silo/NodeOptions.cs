using System.ComponentModel.DataAnnotations;

namespace CmpCluster.Silo;

/// <summary>The <c>Node</c> section: where this process keeps its data and which Orleans ports it binds.</summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    /// <summary>Holds the SQLite database (grain state, reminders) and the PKI folder. Relative to the working directory.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    /// <summary>Silo-to-silo port (loopback only in the single-node default).</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port where Orleans clients (standalone gateways) connect.</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Orleans ClusterId and ServiceId; reminders are scoped by the ServiceId.</summary>
    [Required]
    public string ClusterId { get; set; } = "cmpcluster";

    [Required]
    public string ServiceId { get; set; } = "cmpcluster";
}
