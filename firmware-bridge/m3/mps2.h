/*
 * The parts of QEMU's mps2-an385 (ARM MPS2 with the AN385 Cortex-M3 FPGA image) the unit uses. Addresses
 * from the AN385 application note and QEMU hw/arm/mps2.c; checked under qemu-system-arm 7.2.
 */
#ifndef FW_MPS2_H
#define FW_MPS2_H
#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(addr))

/* 25 MHz system clock: CPU, SysTick (CLKSOURCE = processor), UART and watchdog. */
#define MPS2_SYSCLK_HZ 25000000u

/* CMSDK APB UART0 (link to the rig) and UART1 (actuator command out). */
#define UART0_BASE 0x40004000u
#define UART1_BASE 0x40005000u
#define UART_DATA(b) REG32((b) + 0x000u)
#define UART_STATE(b) REG32((b) + 0x004u)
#define UART_CTRL(b) REG32((b) + 0x008u)
#define UART_INTSTATUS(b) REG32((b) + 0x00Cu) /* write 1s: clear */
#define UART_BAUDDIV(b) REG32((b) + 0x010u)
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u
#define UART_CTRL_RX_INT_EN 0x8u
#define UART_INT_RX 0x2u
#define UART0_RX_IRQ 0u

/* CMSDK APB watchdog: interrupt (wired to NMI on the MPS2) at the first expiry, reset at the second. */
#define WDOG_BASE 0x40008000u
#define WDOG_LOAD REG32(WDOG_BASE + 0x000u)
#define WDOG_VALUE REG32(WDOG_BASE + 0x004u)
#define WDOG_CONTROL REG32(WDOG_BASE + 0x008u)
#define WDOG_INTCLR REG32(WDOG_BASE + 0x00Cu)
#define WDOG_RIS REG32(WDOG_BASE + 0x010u)
#define WDOG_LOCK REG32(WDOG_BASE + 0xC00u)
#define WDOG_CONTROL_INTEN 0x1u
#define WDOG_CONTROL_RESEN 0x2u
#define WDOG_UNLOCK_KEY 0x1ACCE551u

/* SysTick and NVIC (ARMv7-M system control space). */
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CLKSOURCE 0x4u
#define NVIC_ISER0 REG32(0xE000E100u)

/* The provisioning record, placed by QEMU's generic loader: [length u32 LE][record]. */
#define FW_PROVISION_ADDR 0x0003F000u

static inline void irq_disable(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("cpsie i" ::: "memory"); }
static inline void wait_for_interrupt(void) { __asm__ volatile("wfi" ::: "memory"); }

#endif
