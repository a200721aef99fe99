fn main() {
    if cfg!(det_config_flag) {
        println!("det_config_flag");
    }
    if cfg!(det_env_flag) {
        println!("det_env_flag");
    }
}
